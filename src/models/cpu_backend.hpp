// LibTorch's CPU convolution backend for this process: oneDNN, unless core/cpu_backend.hpp's
// check finds that oneDNN would compute wrong results on this machine.
#pragma once

#include "core/cpu_backend.hpp"

namespace pepr::models {

struct CpuBackend {
  OneDnnFacts facts;
  OneDnnVerdict verdict;
};

// Decides once per process (the PEPR_ONEDNN environment variable, then the facts) and turns
// LibTorch's oneDNN off when the verdict says so; later calls return the first answer.
// create_model and train_run call it before any convolution runs.
const CpuBackend& settle_cpu_backend();

// What this process's LibTorch and CPU say (settle_cpu_backend's input).
OneDnnFacts gather_onednn_facts();

// Turns LibTorch's oneDNN off when `verdict.use` is false; never turns it on.
void apply_onednn_verdict(const OneDnnVerdict& verdict);

}  // namespace pepr::models

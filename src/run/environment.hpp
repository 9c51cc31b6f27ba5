// What a run records about the machine it runs on, read from this process: the host, the BLAS
// library LibTorch's matrix products run on, the time. Below both the training engine and the
// sweep (both write it into records). LibTorch-free.
#pragma once

#include <string>

namespace pepr::run {

std::string host_name();

// The file of the BLAS library that provides sgemm_ in this process (resolved through symbolic
// links), or "" when no BLAS is loaded. LibTorch's CPU matrix products run on it, so it decides
// their speed: Debian's libtorch links libblas.so.3, which the alternatives system points at the
// netlib reference implementation unless an optimised one (OpenBLAS, BLIS, MKL) is installed.
std::string loaded_blas();
// True for the netlib reference BLAS (Debian installs it as .../blas/libblas.so.3).
bool is_reference_blas(const std::string& path);

// The UTC time now as 2024-05-01T12:00:00Z.
std::string utc_now();

}  // namespace pepr::run

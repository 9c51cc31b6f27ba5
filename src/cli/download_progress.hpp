// Download progress on stderr for `pepr data pull` and `pepr weights pull`.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "core/progress.hpp"

namespace pepr::cli {

// Redrawn in place on a terminal (never wider than it), a line every 10 % otherwise (and with
// TERM=dumb); nothing when quiet.
class DownloadProgress {
 public:
  DownloadProgress(std::string label, bool quiet);
  void operator()(std::uint64_t done, std::uint64_t total);
  void finish();

 private:
  std::string label_;
  bool quiet_;
  ProgressLine line_;  // redrawn in place, fitted to the terminal's width
  int last_decile_ = -1;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace pepr::cli

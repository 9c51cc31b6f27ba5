#include "cli/download_progress.hpp"

#include <fmt/format.h>

namespace pepr::cli {

DownloadProgress::DownloadProgress(std::string label, bool quiet)
    : label_(std::move(label)), quiet_(quiet) {}

void DownloadProgress::operator()(std::uint64_t done, std::uint64_t total) {
  if (quiet_) return;
  auto now = std::chrono::steady_clock::now();
  int pct = total > 0 ? static_cast<int>(100 * done / total) : -1;
  if (line_.redraws()) {
    if (now - last_ < std::chrono::milliseconds(200) && done != total) return;
    last_ = now;
    line_.draw(fmt::format("{}: {}{}", label_, format_bytes(done),
                           total ? fmt::format(" / {} ({}%)", format_bytes(total), pct) : ""));
  } else if (pct >= 0 && pct / 10 > last_decile_) {
    last_decile_ = pct / 10;
    fmt::print(stderr, "{}: {} / {} ({}%)\n", label_, format_bytes(done), format_bytes(total), pct);
  }
}

void DownloadProgress::finish() {
  line_.finish();
}

}  // namespace pepr::cli

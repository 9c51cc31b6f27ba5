#include "cli/download_progress.hpp"

#include <fmt/format.h>

namespace pepr::cli {

std::string human_bytes(std::uint64_t b) {
  if (b >= (1ull << 30)) return fmt::format("{:.2f} GiB", static_cast<double>(b) / (1ull << 30));
  if (b >= (1ull << 20)) return fmt::format("{:.1f} MiB", static_cast<double>(b) / (1ull << 20));
  if (b >= 1024) return fmt::format("{:.1f} KiB", static_cast<double>(b) / 1024);
  return fmt::format("{} B", b);
}

DownloadProgress::DownloadProgress(std::string label, bool quiet)
    : label_(std::move(label)), quiet_(quiet) {}

void DownloadProgress::operator()(std::uint64_t done, std::uint64_t total) {
  if (quiet_) return;
  auto now = std::chrono::steady_clock::now();
  int pct = total > 0 ? static_cast<int>(100 * done / total) : -1;
  if (line_.redraws()) {
    if (now - last_ < std::chrono::milliseconds(200) && done != total) return;
    last_ = now;
    line_.draw(fmt::format("{}: {}{}", label_, human_bytes(done),
                           total ? fmt::format(" / {} ({}%)", human_bytes(total), pct) : ""));
  } else if (pct >= 0 && pct / 10 > last_decile_) {
    last_decile_ = pct / 10;
    fmt::print(stderr, "{}: {} / {} ({}%)\n", label_, human_bytes(done), human_bytes(total), pct);
  }
}

void DownloadProgress::finish() {
  line_.finish();
}

}  // namespace pepr::cli

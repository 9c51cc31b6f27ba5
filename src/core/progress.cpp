#include "core/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace pepr {

namespace {

// $COLUMNS when it is a plain positive number of sensible size; 0 otherwise.
int columns_from_env() {
  const char* c = std::getenv("COLUMNS");
  if (!c || !*c || std::strlen(c) > 5) return 0;
  int v = 0;
  for (const char* p = c; *p; ++p) {
    if (*p < '0' || *p > '9') return 0;
    v = v * 10 + (*p - '0');
  }
  return v;
}

}  // namespace

TerminalInfo terminal_info(int fd) {
  TerminalInfo t;
  const char* term = std::getenv("TERM");
  const bool dumb = term && std::string_view(term) == "dumb";
  t.redraw = ::isatty(fd) == 1 && !dumb;
  int cols = 0;
  struct winsize ws {};
  if (::isatty(fd) == 1 && ::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) cols = ws.ws_col;
  if (cols <= 0) cols = columns_from_env();
  t.columns = cols > 0 ? std::min(cols, 10000) : 80;
  return t;
}

std::string progress_bar(double fraction, int width) {
  if (width < 3) return {};
  const int inner = width - 2;
  double f = std::isnan(fraction) ? 0.0 : std::clamp(fraction, 0.0, 1.0);
  const int filled = std::clamp(static_cast<int>(std::floor(f * inner)), 0, inner);
  std::string s;
  s.reserve(static_cast<std::size_t>(width));
  s += '[';
  s.append(static_cast<std::size_t>(filled), '#');
  s.append(static_cast<std::size_t>(inner - filled), '.');
  s += ']';
  return s;
}

std::string fit_progress_line(std::string_view head, double fraction, std::string_view tail,
                              int columns, int max_bar) {
  constexpr std::size_t kMinBar = 8;
  const std::size_t room = static_cast<std::size_t>(std::max(columns, 2) - 1);
  std::string line(head.substr(0, room));
  const std::size_t left = room - line.size();
  const std::size_t want = static_cast<std::size_t>(std::max(max_bar, 0));
  auto add_bar = [&](std::size_t cells) {
    line += ' ';
    line += progress_bar(fraction, static_cast<int>(cells));
  };
  if (left >= 1 + kMinBar + tail.size() && want >= kMinBar) {  // head, bar and tail
    add_bar(std::min(want, left - 1 - tail.size()));
    line += tail;
  } else if (left >= 1 + kMinBar && want >= kMinBar) {  // no room for the tail
    add_bar(std::min(want, left - 1));
  } else if (left >= tail.size()) {  // no room for a bar
    line += tail;
  }
  return line;
}

ProgressLine::ProgressLine(std::FILE* out, int fd) : out_(out), fd_(fd), info_(terminal_info(fd)) {}

int ProgressLine::columns() {
  info_ = terminal_info(fd_);
  return info_.columns;
}

void ProgressLine::draw(const std::string& text) {
  if (!info_.redraw) return;
  // Never longer than the terminal (a wrapped line cannot be overwritten with '\r').
  std::string s = text.substr(0, static_cast<std::size_t>(std::max(columns(), 2) - 1));
  std::string pad(drawn_ > s.size() ? drawn_ - s.size() : 0, ' ');
  std::fputs(("\r" + s + pad).c_str(), out_);
  if (!pad.empty()) std::fputs(("\r" + s).c_str(), out_);
  std::fflush(out_);
  drawn_ = s.size();
}

void ProgressLine::clear() {
  if (!info_.redraw || drawn_ == 0) return;
  std::fputs(("\r" + std::string(drawn_, ' ') + "\r").c_str(), out_);
  std::fflush(out_);
  drawn_ = 0;
}

void ProgressLine::finish() {
  if (!info_.redraw || drawn_ == 0) return;
  std::fputs("\n", out_);
  std::fflush(out_);
  drawn_ = 0;
}

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  long t = std::lround(s);
  if (t < 60) return fmt::format("{}s", t);
  if (t < 3600) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}h{:02}m", t / 3600, t / 60 % 60);
}

std::string format_clock(double s) {
  if (!(s >= 0) || s > 1e7) return "?";
  int t = static_cast<int>(s + 0.5);
  return t >= 3600 ? fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
                   : fmt::format("{}:{:02}", t / 60, t % 60);
}

std::string format_bytes(std::uint64_t b) {
  if (b >= (1ull << 30)) return fmt::format("{:.2f} GiB", static_cast<double>(b) / (1ull << 30));
  if (b >= (1ull << 20)) return fmt::format("{:.1f} MiB", static_cast<double>(b) / (1ull << 20));
  if (b >= 1024) return fmt::format("{:.1f} KiB", static_cast<double>(b) / 1024);
  return fmt::format("{} B", b);
}

}  // namespace pepr

// Progress on a terminal: one line redrawn in place, fitted to the terminal's width at every
// draw (so a resized terminal is followed), never longer than the terminal and never built from
// a negative or out-of-range count, whatever the inputs (zero steps, step past the end, NaN,
// a width of 1). Where stderr is not a terminal, or TERM is "dumb", nothing is redrawn: callers
// print whole lines at milestones instead.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace pepr {

// What the terminal behind a file descriptor can do.
struct TerminalInfo {
  bool redraw = false;  // a terminal that honours '\r' redraws (not TERM=dumb, not a file or pipe)
  int columns = 80;     // its width: the terminal's own, else $COLUMNS, else 80
};
// fd's terminal; `columns` is read anew on every call (the terminal may have been resized).
TerminalInfo terminal_info(int fd);

// Durations and sizes as progress lines and messages print them (one place for all commands).
// "42s", "3m07s", "2h05m"; "?" for a negative or non-finite value.
std::string format_duration(double seconds);
// A clock for redrawn bars: "0:41", "1:02:03"; "?" for a negative, non-finite or absurd value.
std::string format_clock(double seconds);
// "512 B", "1.5 KiB", "12.3 MiB", "1.25 GiB".
std::string format_bytes(std::uint64_t bytes);

// A bar of `width` cells for `fraction` (clamped to [0, 1]; NaN counts as 0): "[####....]".
// Empty for width < 3 (no room for a bar).
std::string progress_bar(double fraction, int width);

// One progress line fitted to `columns`: `head` (always kept, truncated if it alone is too wide),
// a bar taking what is left up to `max_bar` cells (dropped below 8 cells), then `tail` (dropped
// first when there is no room). The result is at most columns - 1 characters, so that the cursor
// never wraps to a new line on terminals that wrap at the last column.
std::string fit_progress_line(std::string_view head, double fraction, std::string_view tail,
                              int columns, int max_bar = 30);

// A line redrawn in place on a terminal: draw() overwrites the previous line ('\r', then the new
// text padded with spaces over what was there before; no escape sequences), finish() ends it
// with a newline. On anything else draw() writes nothing.
class ProgressLine {
 public:
  explicit ProgressLine(std::FILE* out = stderr, int fd = 2);
  bool redraws() const { return info_.redraw; }
  int columns();  // the terminal's width now
  void draw(const std::string& text);
  // Before printing a whole line of other output: clears the drawn line, if any.
  void clear();
  void finish();

 private:
  std::FILE* out_;
  int fd_;
  TerminalInfo info_;
  std::size_t drawn_ = 0;  // characters on the line now
};

}  // namespace pepr

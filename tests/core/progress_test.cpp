// The progress line: never longer than the terminal, never built from a negative count.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "core/progress.hpp"

namespace pepr {
namespace {

TEST(ProgressBar, ClampsEveryFraction) {
  EXPECT_EQ(progress_bar(0.5, 12), "[#####.....]");
  EXPECT_EQ(progress_bar(0.0, 5), "[...]");
  EXPECT_EQ(progress_bar(1.0, 5), "[###]");
  // What the engine reported before an epoch knew its size: step > steps, i.e. fractions > 1.
  EXPECT_EQ(progress_bar(7.0, 5), "[###]");
  EXPECT_EQ(progress_bar(-3.0, 5), "[...]");
  EXPECT_EQ(progress_bar(std::nan(""), 5), "[...]");
  EXPECT_EQ(progress_bar(std::numeric_limits<double>::infinity(), 5), "[###]");
  EXPECT_EQ(progress_bar(0.5, 2), "");
  EXPECT_EQ(progress_bar(0.5, -40), "");
}

TEST(ProgressLine, FitsEveryWidth) {
  const std::string head = "  epoch 3/10", tail = "  812 img/s  0:41 ETA 3:02";
  for (int cols = -5; cols <= 200; ++cols) {
    for (double f : {-1.0, 0.0, 0.37, 1.0, 12.0}) {
      const std::string line = fit_progress_line(head, f, tail, cols);
      EXPECT_LE(line.size(), static_cast<std::size_t>(std::max(cols, 2) - 1))
          << "columns " << cols << ": '" << line << "'";
      // The head comes first, cut if it alone is too wide.
      EXPECT_EQ(line.substr(0, std::min(line.size(), head.size())),
                head.substr(0, std::min(line.size(), head.size())));
    }
  }
  // Wide: head, a bar of at most max_bar cells, tail.
  EXPECT_EQ(fit_progress_line("a", 0.5, " z", 200, 10), "a [####....] z");
  // Narrower: the bar shrinks to what the tail leaves.
  EXPECT_EQ(fit_progress_line("a", 0.5, " z", 15, 30), "a [####....] z");
  EXPECT_EQ(fit_progress_line("a", 0.5, " z", 14, 30), "a [###....] z");
  // No room for the tail next to a bar of 8: the tail goes, the bar stays.
  EXPECT_EQ(fit_progress_line("a", 0.5, " tail", 12, 30), "a [###....]");
  // No room for a bar: the tail alone if it fits, else the head alone.
  EXPECT_EQ(fit_progress_line("a", 0.5, " z", 6, 30), "a z");
  EXPECT_EQ(fit_progress_line("abcdef", 0.5, " tail", 4, 30), "abc");
}

TEST(Terminal, NotATerminalRedrawsNothingAndColumnsComeFromTheEnvironment) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::setenv("COLUMNS", "37", 1);
  TerminalInfo t = terminal_info(fds[1]);
  EXPECT_FALSE(t.redraw);
  EXPECT_EQ(t.columns, 37);
  for (const char* bad : {"", "abc", "-5", "0", "99999999999999999999", "12x"}) {
    ::setenv("COLUMNS", bad, 1);
    EXPECT_EQ(terminal_info(fds[1]).columns, 80) << "COLUMNS='" << bad << "'";
  }
  ::unsetenv("COLUMNS");
  EXPECT_EQ(terminal_info(fds[1]).columns, 80);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(ProgressLineWriter, WritesNothingWhenNotATerminal) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  ProgressLine line(f, ::fileno(f));
  EXPECT_FALSE(line.redraws());
  line.draw("epoch 1/2");
  line.clear();
  line.finish();
  EXPECT_EQ(std::ftell(f), 0L);
  std::fclose(f);
}

// One formatter of durations and sizes for every command (the sweep's lines, the training bar,
// downloads).
TEST(ProgressFormat, DurationsClocksAndSizes) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(59.4), "59s");
  EXPECT_EQ(format_duration(187), "3m07s");
  EXPECT_EQ(format_duration(7500), "2h05m");
  EXPECT_EQ(format_duration(-1), "?");
  EXPECT_EQ(format_duration(std::nan("")), "?");
  EXPECT_EQ(format_clock(41), "0:41");
  EXPECT_EQ(format_clock(3723), "1:02:03");
  EXPECT_EQ(format_clock(std::numeric_limits<double>::infinity()), "?");
  EXPECT_EQ(format_clock(-0.5), "?");
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(12 * (1ull << 20) + (1ull << 19)), "12.5 MiB");
  EXPECT_EQ(format_bytes(5 * (1ull << 30) / 4), "1.25 GiB");
}

}  // namespace
}  // namespace pepr

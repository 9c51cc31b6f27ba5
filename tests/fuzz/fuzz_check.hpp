// What every harness of tests/fuzz shares: a failed property prints what was wrong and aborts,
// so libFuzzer saves the input as a crash.
#pragma once

#include <cstdio>
#include <cstdlib>

// Aborts with the harness's message when `cond` is false (kept in release builds, unlike assert).
#define PEPR_FUZZ_CHECK(cond, ...)                                                             \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      std::fprintf(stderr, "pepr fuzz: %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                                       \
      std::fputc('\n', stderr);                                                                \
      std::abort();                                                                            \
    }                                                                                          \
  } while (0)

// The contract of every parser: bad input throws pepr::Error (the CLI prints it and exits 1).
// Any other exception (nlohmann::json's, std::out_of_range, std::bad_alloc, ...) is left
// uncaught: the CLI would report it as "internal error" (exit 70), and libFuzzer reports it as
// a crash ("deadly signal" after std::terminate).

// The process helpers that read this process's environment.
#include <gtest/gtest.h>

#include "run/environment.hpp"

namespace sw = pepr::run;

TEST(Process, ReferenceBlasIsRecognised) {
  EXPECT_TRUE(sw::is_reference_blas("/usr/lib/x86_64-linux-gnu/blas/libblas.so.3"));
  EXPECT_FALSE(sw::is_reference_blas("/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3"));
  EXPECT_FALSE(sw::is_reference_blas(""));
}

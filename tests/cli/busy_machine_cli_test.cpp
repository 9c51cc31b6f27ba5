// pepr train on a loaded machine (issue 31, section 1): with no OMP_WAIT_POLICY of the user's, it
// re-executes itself with PASSIVE OpenMP workers and records why; a policy the user set is kept.
#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_support.hpp"

namespace {

namespace fs = std::filesystem;
using pepr::test::run;
using pepr::test::TempDir;

nlohmann::json wait_policy_of(const fs::path& record) {
  return nlohmann::json::parse(pepr::test::read_file(record))
      .at("environment")
      .at("omp_wait_policy");
}

// A tiny run: synthetic data, one epoch, one thread.
std::string train_args(const TempDir& tmp, const std::string& out) {
  return fmt::format("train -m resnet18 -d '{}' -e 1 --batch-size 8 --threads 1 -q -o '{}'",
                     (tmp / "s.npz").string(), (tmp / out).string());
}

TEST(BusyMachine, TrainOnALoadedMachineWaitsPassivelyAndSaysWhy) {
  PEPR_REQUIRE_TRAIN();
  TempDir tmp;
  const std::string pepr = pepr::test::pepr_binary();
  ASSERT_EQ(run({pepr, "data", "synth", "-o", (tmp / "s.npz").string(), "--size", "8", "--train",
                 "24", "--val", "8", "--test", "8"})
                .exit_code,
            0);
  // A process that keeps one core busy for the whole run, beside pepr train.
  const auto loaded = run(
      {"bash", "-c",
       fmt::format("(while :; do :; done) & spin=$!; sleep 0.3; env -u OMP_WAIT_POLICY '{}' {}; "
                   "rc=$?; kill $spin; exit $rc",
                   pepr, train_args(tmp, "loaded.json"))});
  ASSERT_EQ(loaded.exit_code, 0) << loaded.err;
  const auto policy = wait_policy_of(tmp / "loaded.json");
  EXPECT_EQ(policy.at("policy"), "PASSIVE") << policy;
  EXPECT_EQ(policy.at("choice").get<std::string>().rfind("PASSIVE: other processes kept ", 0), 0u)
      << policy;

  // The user's own setting is never overridden.
  const auto asked =
      run({"bash", "-c",
           fmt::format("OMP_WAIT_POLICY=ACTIVE '{}' {}", pepr, train_args(tmp, "asked.json"))});
  ASSERT_EQ(asked.exit_code, 0) << asked.err;
  const auto kept = wait_policy_of(tmp / "asked.json");
  EXPECT_EQ(kept.at("policy"), "ACTIVE") << kept;
  EXPECT_EQ(kept.at("choice"), "OMP_WAIT_POLICY set by the user") << kept;
}

}  // namespace

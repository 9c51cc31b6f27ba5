// Whether a run fits the memory: the linear fit of a probe's two points, the plan (a refusal
// naming the batch size that fits; evaluation's batch lowered), what is available (meminfo and a
// cgroup's limit) and the process's restartable peak RSS.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "meter/memory_fit.hpp"
#include "meter/util.hpp"
#include "support/test_support.hpp"

namespace pepr::meter {
namespace {

constexpr double GB = 1e9;

// The one reader of "Key: N kB" lines (status, meminfo, smaps_rollup) that the memory check and
// the process meter share.
TEST(MemoryFit, ProcFieldsAreReadByWholeKeyInKilobytes) {
  const std::string status =
      "Name:\tpepr\nVmHWMx:\t1 kB\nVmHWM:\t  2048 kB\nVmRSS:\t1024 kB\nPss_Anon:\t7 kB\n"
      "Pss:\t3 kB\nBad:\t12x kB\nThreads:\t4\n";
  EXPECT_EQ(proc_kb_field(status, "VmHWM"), 2048.0 * 1024);  // not VmHWMx's
  EXPECT_EQ(proc_kb_field(status, "VmRSS"), 1024.0 * 1024);
  EXPECT_EQ(proc_kb_field(status, "Pss"), 3.0 * 1024);      // not Pss_Anon's
  EXPECT_FALSE(proc_kb_field(status, "Bad"));
  EXPECT_FALSE(proc_kb_field(status, "VmSwap"));
  EXPECT_FALSE(proc_kb_field("", "VmHWM"));
  EXPECT_FALSE(proc_kb_field("VmHWM:", "VmHWM"));
  EXPECT_FALSE(proc_kb_field("VmHWM: -5 kB", "VmHWM"));
}

TEST(MemoryFit, TwoPointsGiveTheLine) {
  const LinearMemory m = fit_memory(2, 1.0 * GB, 4, 1.5 * GB);
  EXPECT_DOUBLE_EQ(m.per_image, 0.25 * GB);
  EXPECT_DOUBLE_EQ(m.intercept, 0.5 * GB);
  EXPECT_DOUBLE_EQ(m.at(32), 8.5 * GB);
  EXPECT_EQ(m.largest_batch_within(8.5 * GB, 64), 32);
  EXPECT_EQ(m.largest_batch_within(8.49 * GB, 64), 31);
  EXPECT_EQ(m.largest_batch_within(100 * GB, 64), 64);  // capped at the batch asked
  EXPECT_EQ(m.largest_batch_within(0.7 * GB, 64), 0);   // not even one image
}

// Noise on a model with small activations: the larger batch measured less. The line is then the
// larger point spread over its batch, never below what was seen.
TEST(MemoryFit, ANegativeSlopeNeverPromisesLessThanWasSeen) {
  const LinearMemory m = fit_memory(2, 0.08 * GB, 4, 0.066 * GB);
  EXPECT_DOUBLE_EQ(m.intercept, 0);
  EXPECT_DOUBLE_EQ(m.per_image, 0.02 * GB);
  EXPECT_GE(m.at(2), 0.04 * GB);
  // Faster than linear between the points: the intercept is not negative.
  const LinearMemory steep = fit_memory(2, 0.1 * GB, 4, 1.0 * GB);
  EXPECT_DOUBLE_EQ(steep.intercept, 0);
  EXPECT_GE(steep.at(2), 0.1 * GB);
}

MemoryProbe probe_of(double per_image_train, double per_image_eval) {
  MemoryProbe p;
  p.train_small = 0.5 * GB + 2 * per_image_train;
  p.train_large = 0.5 * GB + 4 * per_image_train;
  p.eval_small = 0.1 * GB + 2 * per_image_eval;
  p.eval_large = 0.1 * GB + 4 * per_image_eval;
  p.optimizer_state = 0.2 * GB;
  p.gradients = 0.1 * GB;
  return p;
}

TEST(MemoryFit, ARunThatFitsIsPlannedAsAsked) {
  const MemoryPlan plan =
      plan_memory(probe_of(0.1 * GB, 0.01 * GB), 32, 256, 20 * GB, "m at 28 px");
  EXPECT_TRUE(plan.train_fits);
  EXPECT_NEAR(plan.train_need, 0.5 * GB + 3.2 * GB + 0.2 * GB, 1);
  EXPECT_EQ(plan.eval_batch, 256);
  EXPECT_TRUE(plan.refusal.empty());
  EXPECT_TRUE(plan.eval_note.empty());
}

// The OOM of halo2botnet50ts_256 at 256 px: training at 32 fit, evaluation at 256 did not.
TEST(MemoryFit, EvaluationTooLargeIsLoweredToWhatFitsAndSaysSo) {
  const MemoryProbe p = probe_of(0.22 * GB, 0.088 * GB);
  const MemoryPlan plan = plan_memory(p, 32, 256, 21.6 * GB, "halo2botnet50ts_256 at 256 px");
  EXPECT_TRUE(plan.train_fits);
  EXPECT_GT(plan.eval_need, 21.6 * GB);
  ASSERT_LT(plan.eval_batch, 256);
  // The largest batch within half of what is available (more than training's 7.74 GB), beside
  // the optimiser's state (0.2 GB), the gradients (0.1 GB) and the pass's intercept (0.1 GB).
  EXPECT_DOUBLE_EQ(plan.eval_budget, 0.5 * 21.6 * GB);
  const double room = 0.5 * 21.6 * GB - 0.2 * GB - 0.1 * GB - 0.1 * GB;
  EXPECT_EQ(plan.eval_batch, static_cast<int>(room / (0.088 * GB)));
  // Where training needs more than half, evaluation may have as much as training.
  const MemoryPlan big = plan_memory(probe_of(0.5 * GB, 0.2 * GB), 32, 256, 21.6 * GB, "x");
  EXPECT_NEAR(big.eval_budget, big.train_need, 1);
  EXPECT_GT(big.eval_budget, 0.5 * 21.6 * GB);
  EXPECT_NE(plan.eval_note.find(fmt::format("batches of {}, not 256", plan.eval_batch)),
            std::string::npos)
      << plan.eval_note;
}

TEST(MemoryFit, TrainingThatCannotFitIsRefusedWithTheBatchThatFits) {
  const MemoryPlan plan =
      plan_memory(probe_of(1.0 * GB, 0.1 * GB), 32, 256, 10 * GB, "big at 256 px");
  EXPECT_FALSE(plan.train_fits);
  // 10 GB x 0.85 = 8.5 GB, less the optimiser's 0.2 GB and the step's 0.5 GB: 7 images.
  EXPECT_EQ(plan.train_batch_fits, 7);
  EXPECT_NE(plan.refusal.find("not started"), std::string::npos) << plan.refusal;
  EXPECT_NE(plan.refusal.find("big at 256 px"), std::string::npos) << plan.refusal;
  EXPECT_NE(plan.refusal.find("--batch-size 7 fits"), std::string::npos) << plan.refusal;
  EXPECT_NE(plan.refusal.find("--no-memory-check"), std::string::npos) << plan.refusal;

  const MemoryPlan none = plan_memory(probe_of(1.0 * GB, 0.1 * GB), 32, 256, 1 * GB, "big");
  EXPECT_EQ(none.train_batch_fits, 0);
  EXPECT_NE(none.refusal.find("not even one image fits, and the model takes no smaller images"),
            std::string::npos)
      << none.refusal;
  const MemoryPlan shrink =
      plan_memory(probe_of(1.0 * GB, 0.1 * GB), 32, 256, 1 * GB, "big", /*smaller_size=*/32);
  EXPECT_NE(shrink.refusal.find("a smaller --image-size (the model accepts down to 32 px)"),
            std::string::npos)
      << shrink.refusal;
}

TEST(MemoryFit, TheRecordSaysWhatWasPlanned) {
  const MemoryProbe p = probe_of(0.22 * GB, 0.088 * GB);
  const auto j = memory_check_json(plan_memory(p, 32, 256, 21.6 * GB, "x"), p);
  EXPECT_NEAR(j["available_gb"].get<double>(), 21.6, 1e-9);
  EXPECT_EQ(j["eval_batch_size_asked"], 256);
  EXPECT_LT(j["eval_batch_size"].get<int>(), 256);
  EXPECT_EQ(j["probe"]["batches"], nlohmann::json::array({2, 4}));
  EXPECT_TRUE(j["basis"].is_string());
}

TEST(MemoryFit, AvailableIsMemAvailableLoweredToTheCgroupsRoom) {
  test::TempDir dir;
  test::write_file(dir / "meminfo",
                   "MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   20000000 kB\n");
  const auto cg = dir / "cg";
  std::filesystem::create_directories(cg);
  // No cgroup files: MemAvailable.
  EXPECT_DOUBLE_EQ(*available_memory_bytes((dir / "meminfo").string(), cg.string()),
                   20000000.0 * 1024);
  // No limit ("max"): MemAvailable.
  test::write_file(cg / "memory.max", "max\n");
  test::write_file(cg / "memory.current", "1000\n");
  EXPECT_DOUBLE_EQ(*available_memory_bytes((dir / "meminfo").string(), cg.string()),
                   20000000.0 * 1024);
  // A limit of 8 GB with 3 GB used: 5 GB.
  test::write_file(cg / "memory.max", "8000000000\n");
  test::write_file(cg / "memory.current", "3000000000\n");
  EXPECT_DOUBLE_EQ(*available_memory_bytes((dir / "meminfo").string(), cg.string()), 5e9);
  // Over the limit already: nothing.
  test::write_file(cg / "memory.current", "9000000000\n");
  EXPECT_DOUBLE_EQ(*available_memory_bytes((dir / "meminfo").string(), cg.string()), 0);
  // Garbage and missing files: nothing to go on.
  test::write_file(dir / "bad", "MemAvailable: lots\n");
  EXPECT_FALSE(available_memory_bytes((dir / "bad").string(), (dir / "none").string()));
  EXPECT_FALSE(available_memory_bytes((dir / "none").string(), (dir / "none").string()));
}

// The probe's measure: the peak restarts at the current RSS, and a touched allocation shows.
TEST(MemoryFit, PeakRssRestartsAndSeesAnAllocation) {
  if (!reset_peak_rss()) GTEST_SKIP() << "this kernel does not let a process restart VmHWM";
  const double base = current_rss_bytes().value_or(0);
  ASSERT_GT(base, 0);
  {
    const size_t n = 256u << 20;
    std::unique_ptr<char[]> block(new char[n]);
    std::memset(block.get(), 1, n);
    EXPECT_GE(*peak_rss_bytes() - base, 200e6);
  }
  ASSERT_TRUE(reset_peak_rss());
  EXPECT_LT(*peak_rss_bytes() - base, 100e6);
}

}  // namespace
}  // namespace pepr::meter

// `pepr track` and `pepr meters` end to end (the pepr binary, no real sensor).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/table.hpp"
#include "meter_test_util.hpp"
#include "support/test_support.hpp"

namespace {

using nlohmann::json;
using pepr::test::EnvGuard;
using pepr::test::run_pepr;

// True once a process whose parent is `parent` exists (read from /proc/PID/stat: "pid (comm)
// state ppid ...").
bool has_child(pid_t parent) {
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::ifstream stat(e.path() / "stat");
    std::string line;
    if (!stat || !std::getline(stat, line)) continue;
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 1));
    std::string state;
    long ppid = 0;
    if (rest >> state >> ppid && ppid == parent) return true;
  }
  return false;
}

json load(const std::filesystem::path& p) {
  return json::parse(pepr::test::read_file(p));
}

TEST(TrackCli, SleepOnMachineWithoutSensor) {
  EnvGuard env{PEPR_NO_SENSORS_ENV};
  pepr::test::TempDir tmp;
  auto r = run_pepr({"track", "-o", (tmp / "r.json").string(), "--", "sleep", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json rec = load(tmp / "r.json");
  const double wall = rec["total"]["wall_s"].get<double>();
  EXPECT_GT(wall, 1.5);
  EXPECT_LT(wall, 5.0);
  EXPECT_EQ(rec["methods"]["energy"], "estimate");
  EXPECT_NE(rec["estimate_reason"].get<std::string>().find("no readable RAPL powercap"),
            std::string::npos);
  EXPECT_LT(rec["total"]["energy_raw_j"].get<double>(), 0.5);  // an idle child
  EXPECT_LT(rec["total"]["cpu_s"].get<double>(), 0.2);
  EXPECT_EQ(rec["exit_code"], 0);
  EXPECT_EQ(rec["command"], json({"sleep", "2"}));
  EXPECT_EQ(rec["label"], "sleep");
  EXPECT_GT(rec["total"]["mem_peak_gb"].get<double>(), 0.0);
  // That the peak is sleep's own few MB and not the pepr image it was forked from is checked
  // deterministically in Tracker.ChildPeakMemoryStartsAtExec; end to end, under heavy load, the
  // reaped child's ru_maxrss can still carry the pre-exec image (about 1 run in 20 here).
  // The summary goes to stderr and says how the numbers were obtained.
  EXPECT_NE(r.err.find("estimate (no sensor)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("world average 480 g/kWh"), std::string::npos) << r.err;
}

TEST(TrackCli, CpuBoundChildGetsMoreEnergyThanSleep) {
  EnvGuard env{PEPR_NO_SENSORS_ENV};
  pepr::test::TempDir tmp;
  auto s = run_pepr({"track", "-q", "-o", (tmp / "s.json").string(), "--", "sleep", "1"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  auto b = run_pepr({"track", "-q", "-o", (tmp / "b.json").string(), "--", "sh", "-c",
                     "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  json sj = load(tmp / "s.json"), bj = load(tmp / "b.json");
  EXPECT_GT(bj["total"]["cpu_s"].get<double>(), 0.1);
  EXPECT_GT(bj["total"]["energy_j"]["cpu.estimate"].get<double>(),
            10 * sj["total"]["energy_j"]["cpu.estimate"].get<double>());
  EXPECT_GT(bj["total"]["energy_raw_j"].get<double>(), sj["total"]["energy_raw_j"].get<double>());
}

TEST(TrackCli, ExitsWithChildExitCode) {
  EnvGuard env{PEPR_NO_SENSORS_ENV};
  pepr::test::TempDir tmp;
  auto r = run_pepr({"track", "-o", (tmp / "r.json").string(), "--", "sh", "-c", "exit 3"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(load(tmp / "r.json")["exit_code"], 3);
  auto q = run_pepr({"track", "-q", "--", "sh", "-c", "kill -TERM $$"});
  EXPECT_EQ(q.exit_code, 128 + SIGTERM);
  auto n = run_pepr({"track", "--", "/nonexistent/program"});
  EXPECT_EQ(n.exit_code, 127);
  EXPECT_NE(n.err.find("cannot run '/nonexistent/program'"), std::string::npos) << n.err;
  auto none = run_pepr({"track"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("no command to run"), std::string::npos) << none.err;
}

TEST(TrackCli, ChildOutputAndArgumentsPassThrough) {
  EnvGuard env{PEPR_NO_SENSORS_ENV};
  auto r = run_pepr({"track", "-q", "--", "sh", "-c", "echo \"$1 $2\"", "sh", "-x", "--pue"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "-x --pue\n");
}

TEST(TrackCli, ForwardsSigterm) {
  EnvGuard env{PEPR_NO_SENSORS_ENV};
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string bin = pepr::test::pepr_binary();
    ::execl(bin.c_str(), bin.c_str(), "track", "-q", "--", "sleep", "30", (char*)nullptr);
    ::_exit(126);
  }
  // Once pepr has started its child it has its handlers (before that, under load, pepr may
  // still be loading its libraries and SIGTERM would simply end it).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!has_child(pid)) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "pepr track never started sleep";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto t0 = std::chrono::steady_clock::now();
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM);  // the child was terminated, pepr reported it
  EXPECT_LT(secs, 10.0);
}

TEST(TrackCli, AppendRowsThatScoreReads) {
  EnvGuard env{PEPR_NO_SENSORS_ENV};
  pepr::test::TempDir tmp;
  const std::string csv = (tmp / "results.csv").string();
  auto a = run_pepr({"track", "-q", "--append", csv, "--label", "small", "--column",
                     "accuracy=0.80", "--", "sleep", "0.2"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  auto b = run_pepr({"track", "-q", "--append", csv, "--label", "big", "--column", "accuracy=0.90",
                     "--", "sh", "-c", "i=0; while [ $i -lt 50000 ]; do i=$((i+1)); done"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  std::string text = pepr::test::read_file(csv);
  EXPECT_EQ(text.substr(0, text.find('\n')),
            "label,time_s,cpu_time_s,energy_kwh,energy_raw_kwh,energy_idle_kwh,co2_g,mem_peak_gb,"
            "gpu_mem_peak_gb,energy_method,intensity_g_per_kwh,pue,country,exit_code,"
            "energy_kwh_lo,energy_kwh_hi,co2_g_lo,co2_g_hi,energy_error_per_run,accuracy");
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);
  EXPECT_NE(text.find("\nsmall,"), std::string::npos);
  EXPECT_NE(text.find("\nbig,"), std::string::npos);
  EXPECT_NE(text.find(",estimate,480,1,,0,"), std::string::npos) << text;
  {
    // The bounds hold the figure.
    const auto t = pepr::Table::read_csv(csv);
    for (std::size_t r = 0; r < t.num_rows(); ++r) {
      const double e = t.number(r, t.require_column("energy_kwh"));
      EXPECT_LT(t.number(r, t.require_column("energy_kwh_lo")), e);
      EXPECT_GT(t.number(r, t.require_column("energy_kwh_hi")), e);
    }
  }
  // A table written before the bounds existed is appended to without them.
  const std::string old_csv = (tmp / "old.csv").string();
  pepr::test::write_file(
      old_csv,
      "label,time_s,cpu_time_s,energy_kwh,energy_raw_kwh,energy_idle_kwh,co2_g,mem_peak_gb,"
      "gpu_mem_peak_gb,energy_method,intensity_g_per_kwh,pue,country,exit_code,accuracy\n"
      "old,1,1,1e-06,1e-06,0,0.0005,0.1,,estimate,480,1,,0,0.7\n");
  auto o = run_pepr({"track", "-q", "--append", old_csv, "--label", "new", "--column",
                     "accuracy=0.80", "--", "true"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const auto old_table = pepr::Table::read_csv(old_csv);
  EXPECT_EQ(old_table.num_rows(), 2u);
  EXPECT_FALSE(old_table.find_column("energy_kwh_lo").has_value());

  // Another set of columns: refused, file untouched.
  auto c = run_pepr({"track", "-q", "--append", csv, "--", "true"});
  EXPECT_EQ(c.exit_code, 1);
  EXPECT_NE(c.err.find("header differs"), std::string::npos) << c.err;
  EXPECT_EQ(pepr::test::read_file(csv), text);

  auto s = run_pepr({"score", csv});
  EXPECT_EQ(s.exit_code, 0) << s.err;
  EXPECT_NE(s.out.find("small"), std::string::npos) << s.out;
  EXPECT_NE(s.out.find("big"), std::string::npos) << s.out;
}

// --model and --dataset: rows that name their model and dataset as pepr collect's table does,
// which pepr score ranks beside a collected table without any mapping.
TEST(TrackCli, RowsNameTheirModelAndDatasetLikeCollectedOnes) {
  EnvGuard env{PEPR_NO_SENSORS_ENV};
  pepr::test::TempDir tmp;
  const std::string m = (tmp / "m.json").string(), csv = (tmp / "t.csv").string();
  auto r = run_pepr({"track", "-q", "--model", "my_script", "--dataset", "synth_scratch",
                     "--metrics", m, "--append", csv, "-o", (tmp / "r.json").string(), "--", "sh",
                     "-c", "echo '{\"test_acc\": 0.75}' > " + m});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string text = pepr::test::read_file(csv);
  EXPECT_EQ(text.substr(0, text.find('\n')),
            "model,dataset,label,time_s,cpu_time_s,energy_kwh,energy_raw_kwh,energy_idle_kwh,"
            "co2_g,mem_peak_gb,gpu_mem_peak_gb,energy_method,intensity_g_per_kwh,pue,country,"
            "exit_code,energy_kwh_lo,energy_kwh_hi,co2_g_lo,co2_g_hi,energy_error_per_run,"
            "others_busy_cores,test_acc");
  EXPECT_NE(text.find("\nmy_script,synth_scratch,sh,"), std::string::npos) << text;
  EXPECT_EQ(load(tmp / "r.json")["model"], "my_script");
  // Recomputed from the record, the row keeps its names.
  const std::string again = (tmp / "again.csv").string();
  auto q = run_pepr(
      {"track", "--recompute", (tmp / "r.json").string(), "--pue", "1.5", "--append", again});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  EXPECT_NE(pepr::test::read_file(again).find("\nmy_script,synth_scratch,sh,"), std::string::npos);

  // Ranked with a collected table: P = test_acc and energy = energy_kwh, both tables have them.
  const std::string results = (tmp / "results.csv").string();
  pepr::test::write_file(results,
                         "model,energy,test_00,dataset,energy_kwh,test_acc\n"
                         "resnet18,0.001,0.9,synth_scratch,0.001,0.9\n");
  auto s = run_pepr({"score", results, csv, "-g", "dataset", "-f", "csv"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_NE(s.out.find("\nmy_script,,,synth_scratch,"), std::string::npos) << s.out;

  // A metric named like one of the row's own columns is refused, not written twice.
  const std::string dup = (tmp / "dup.csv").string();
  auto d = run_pepr(
      {"track", "-q", "--model", "x", "--column", "model=y", "--append", dup, "--", "true"});
  EXPECT_NE(d.exit_code, 0);
  EXPECT_NE(d.err.find("column 'model' from --column or --metrics"), std::string::npos) << d.err;
  EXPECT_FALSE(std::filesystem::exists(dup));
}

TEST(TrackCli, MetricsFileBecomesColumns) {
  EnvGuard env{PEPR_NO_SENSORS_ENV};
  pepr::test::TempDir tmp;
  const std::string m = (tmp / "m.json").string(), csv = (tmp / "r.csv").string();
  auto r =
      run_pepr({"track", "-q", "--metrics", m, "--append", csv, "-o", (tmp / "r.json").string(),
                "--", "sh", "-c", "echo '{\"accuracy\": 0.75}' > " + m});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(load(tmp / "r.json")["metrics"]["accuracy"], 0.75);
  std::string text = pepr::test::read_file(csv);
  EXPECT_NE(text.find(",energy_error_per_run,accuracy\n"), std::string::npos) << text;
  EXPECT_NE(text.find(",0.75\n"), std::string::npos) << text;
}

TEST(TrackCli, RecomputeForAnotherCountryAndPue) {
  EnvGuard env{PEPR_NO_SENSORS_ENV};
  pepr::test::TempDir tmp;
  auto r = run_pepr({"track", "-q", "--country", "FR", "-o", (tmp / "r.json").string(), "--", "sh",
                     "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json a = load(tmp / "r.json");
  EXPECT_EQ(a["carbon"]["country"], "FR");
  const double raw = a["total"]["energy_raw_kwh"].get<double>();
  EXPECT_NEAR(a["total"]["co2_g"].get<double>(), raw * 56, 1e-12);
  auto q = run_pepr({"track", "-q", "--recompute", (tmp / "r.json").string(), "--intensity", "100",
                     "--pue", "1.58", "-o", (tmp / "r2.json").string()});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  json b = load(tmp / "r2.json");
  EXPECT_DOUBLE_EQ(b["total"]["energy_raw_kwh"].get<double>(), raw);
  EXPECT_NEAR(b["total"]["energy_kwh"].get<double>(), raw * 1.58, 1e-15);
  EXPECT_NEAR(b["total"]["co2_g"].get<double>(), raw * 100 * 1.58, 1e-12);
  EXPECT_TRUE(b["carbon"]["country"].is_null());
  EXPECT_EQ(b["total"]["energy_j"], a["total"]["energy_j"]);  // raw figures untouched
}

TEST(TrackCli, RejectsBadOptions) {
  EnvGuard env{PEPR_NO_SENSORS_ENV};
  auto a = run_pepr({"track", "--country", "ZZ", "--", "true"});
  EXPECT_EQ(a.exit_code, 1);
  EXPECT_NE(a.err.find("--country 'ZZ'"), std::string::npos) << a.err;
  auto b = run_pepr({"track", "--pue", "0.9", "--", "true"});
  EXPECT_EQ(b.exit_code, 1);
  auto c = run_pepr({"track", "--interval", "0", "--", "true"});
  EXPECT_EQ(c.exit_code, 1);
}

TEST(TrackCli, SamplesFile) {
  EnvGuard env{PEPR_NO_SENSORS_ENV};
  pepr::test::TempDir tmp;
  auto r = run_pepr({"track", "-q", "--interval", "0.05", "--samples", (tmp / "s.jsonl").string(),
                     "--", "sleep", "0.5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string s = pepr::test::read_file(tmp / "s.jsonl");
  EXPECT_GE(std::count(s.begin(), s.end(), '\n'), 5);
  EXPECT_TRUE(json::parse(s.substr(0, s.find('\n')))["power_w"].contains("cpu.estimate"));
}

TEST(MetersCli, NoSensor) {
  EnvGuard env{PEPR_NO_SENSORS_ENV};
  auto r = run_pepr({"meters", "--window", "0.05"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("no powercap tree at /nonexistent/powercap"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("disabled by PEPR_PERF=0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no NVML: cannot load /nonexistent/libnvidia-ml.so.1"), std::string::npos);
  EXPECT_NE(r.out.find("pepr track would use: CPU/DRAM estimate, GPU none"), std::string::npos);
}

TEST(MetersCli, FakeSensors) {
  pepr::test::TempDir tmp;
  pepr::test::make_zone(tmp.path(), "intel-rapl:0", "package-0", "1000");
  pepr::test::make_zone(tmp.path(), "intel-rapl:0:0", "dram", "junk");
  EnvGuard env{{"PEPR_POWERCAP_ROOT", tmp.path().string()},
               {"PEPR_PERF", std::string("0")},
               {"PEPR_NVML_LIB", std::string(PEPR_FAKE_NVML_PATH)},
               {"FAKE_NVML_MODE", std::string("power")},
               {"FAKE_NVML_COUNT", std::string("2")},
               {"CUDA_VISIBLE_DEVICES", std::string("1")}};
  auto r = run_pepr({"meters", "--window", "0.05", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json p = json::parse(r.out);
  EXPECT_TRUE(p["rapl"]["usable"].get<bool>());
  ASSERT_EQ(p["rapl"]["zones"].size(), 2u);
  EXPECT_NEAR(p["rapl"]["zones"][0]["power_w"].get<double>(), 0.0, 1e-9);
  EXPECT_NE(p["rapl"]["zones"][1]["problem"].get<std::string>().find("not a counter"),
            std::string::npos);
  ASSERT_EQ(p["nvml"]["gpus"].size(), 2u);
  EXPECT_FALSE(p["nvml"]["gpus"][0]["visible"].get<bool>());
  EXPECT_TRUE(p["nvml"]["gpus"][1]["visible"].get<bool>());
  EXPECT_FALSE(p["nvml"]["gpus"][1]["energy_counter"].get<bool>());
  EXPECT_NEAR(p["nvml"]["gpus"][1]["power_w"].get<double>(), 200.0, 1e-6);
  EXPECT_EQ(p["selected"]["cpu_dram"], "rapl-powercap");
  EXPECT_EQ(p["selected"]["gpu"], "nvml (1 GPU)");
  auto t = run_pepr({"meters", "--window", "0.05"});
  EXPECT_NE(t.out.find("Fake GPU 1"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("(not counted)"), std::string::npos) << t.out;
  // -o and -f as on every other command: the same JSON into a file (from its extension).
  auto f = run_pepr({"meters", "--window", "0.05", "-o", (tmp / "m.json").string()});
  ASSERT_EQ(f.exit_code, 0) << f.err;
  EXPECT_EQ(f.out, "");
  const json written = json::parse(pepr::test::read_file(tmp / "m.json"));
  EXPECT_EQ(written["selected"]["gpu"], "nvml (1 GPU)");
  auto text =
      run_pepr({"meters", "--window", "0.05", "-f", "text", "-o", (tmp / "m.txt").string()});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(pepr::test::read_file(tmp / "m.txt").find("Fake GPU 1"), std::string::npos);
}

}  // namespace

TEST(TrackCli, BadOutputPathsAreRefusedBeforeTheCommandRuns) {
  EnvGuard env{PEPR_NO_SENSORS_ENV};
  pepr::test::TempDir tmp;
  const auto marker = tmp / "ran";
  for (const char* opt : {"-o", "--append", "--samples"}) {
    const std::string out = (tmp / "missing" / "out").string();
    auto r = run_pepr({"track", opt, out, "--", "touch", marker.string()});
    EXPECT_EQ(r.exit_code, 1) << opt;
    EXPECT_NE(r.err.find(std::string(opt) + " " + out + ": folder '" + (tmp / "missing").string() +
                         "' does not exist"),
              std::string::npos)
        << r.err;
    EXPECT_FALSE(std::filesystem::exists(marker)) << opt << ": the command ran";
  }
  // --recompute checks before it reads anything.
  auto r = run_pepr({"track", "--recompute", (tmp / "none.json").string(), "-o",
                     (tmp / "missing" / "x.json").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("cannot open"), std::string::npos) << r.err;
}

TEST(TrackCli, SummaryStatesEnergyInWhOnly) {
  EnvGuard env{PEPR_NO_SENSORS_ENV};
  auto r = run_pepr({"track", "--", "true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream in(r.err);
  std::string line;
  int energy_lines = 0;
  while (std::getline(in, line)) {
    const bool energy = line.find("  energy  ") == 0 || line.find("x PUE") != std::string::npos;
    if (!energy) continue;
    ++energy_lines;
    EXPECT_NE(line.find(" Wh"), std::string::npos) << line;
    EXPECT_EQ(line.find("kWh"), std::string::npos) << "one unit per quantity: " << line;
    EXPECT_EQ(line.find(" J"), std::string::npos) << "one unit per quantity: " << line;
  }
  EXPECT_EQ(energy_lines, 2) << r.err;
}

// Damaged or foreign records given to --recompute are located errors (exit 1), never a crash or an
// internal error (exit 70). The first read a missing key through operator[] on a const object
// (AddressSanitizer: heap-use-after-free) and exited 70 or 0 depending on the options.
TEST(TrackCli, RecomputeRefusesMalformedRecordsWithTheKeyThatIsWrong) {
  EnvGuard env{PEPR_NO_SENSORS_ENV};
  pepr::test::TempDir tmp;
  auto r = run_pepr({"track", "-q", "-o", (tmp / "good.json").string(), "--", "true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json good = load(tmp / "good.json");
  struct Case {
    std::string name;
    json record;
    std::string expect;
  };
  std::vector<Case> cases = {
      {"empty-total", json::parse(R"({"total":{}})"), "total.energy_raw_j: missing"},
      {"not-object", json::parse("[1,2]"), "expected a JSON object"},
  };
  json raw_text = good;
  raw_text["total"]["energy_raw_j"] = "12 J";
  cases.push_back(
      {"raw-not-number", raw_text, "total.energy_raw_j: expected a number, found a string"});
  json carbon_array = good;
  carbon_array["carbon"] = json::array({1, 2});
  cases.push_back(
      {"carbon-array", carbon_array, "carbon: expected an object or null, found an array"});
  json interval_raw = good;
  interval_raw["intervals"] = json::array({json::object({{"energy_raw_j", json::array()}})});
  cases.push_back({"interval-raw", interval_raw, "intervals[0].energy_raw_j: expected a number"});
  json comp = good;
  comp["components"] = json::array({json::object({{"name", "cpu"}})});
  cases.push_back({"component", comp, "components[0].in_total: missing"});
  json label = good;
  label["label"] = 7;
  cases.push_back({"label", label, "label: expected a string, found a number"});
  json no_gpu = good;  // optional keys may be absent: this one is fine
  no_gpu["total"].erase("gpu_mem_peak_gb");
  no_gpu.erase("estimate_reason");
  for (const auto& c : cases) {
    const auto in = (tmp / (c.name + ".json")).string();
    pepr::test::write_file(in, c.record.dump());
    for (const std::vector<std::string>& extra : {std::vector<std::string>{},
                                                  {"--append", (tmp / (c.name + ".csv")).string()},
                                                  {"--country", "FR"}}) {
      std::vector<std::string> args{"track", "--recompute", in};
      args.insert(args.end(), extra.begin(), extra.end());
      auto q = run_pepr(args);
      EXPECT_EQ(q.exit_code, 1) << c.name << ": " << q.err;
      EXPECT_NE(q.err.find(in + ": "), std::string::npos) << c.name << ": " << q.err;
      EXPECT_NE(q.err.find(c.expect), std::string::npos) << c.name << ": " << q.err;
      EXPECT_EQ(q.err.find("internal error"), std::string::npos) << c.name << ": " << q.err;
    }
  }
  const auto ok = (tmp / "no_gpu.json").string();
  pepr::test::write_file(ok, no_gpu.dump());
  auto q = run_pepr({"track", "--recompute", ok, "--append", (tmp / "ok.csv").string()});
  EXPECT_EQ(q.exit_code, 0) << q.err;
  EXPECT_NE(q.err.find("recomputed"), std::string::npos) << q.err;
  // The table --append wrote, given by mistake: what it is not, without a parser's internals.
  auto csv = run_pepr({"track", "--recompute", (tmp / "ok.csv").string()});
  EXPECT_EQ(csv.exit_code, 1) << csv.err;
  EXPECT_NE(csv.err.find("ok.csv: not a pepr track record (a JSON file written by pepr track "
                         "-o): not JSON at byte 1"),
            std::string::npos)
      << csv.err;
  EXPECT_EQ(csv.err.find("json.exception"), std::string::npos) << csv.err;
}

// --append quotes what the CSV reader would refuse unquoted (a control byte in a label), so
// `pepr score` reads the table it wrote.
TEST(TrackCli, AppendedRowsWithControlBytesReadBack) {
  EnvGuard env{PEPR_NO_SENSORS_ENV};
  pepr::test::TempDir tmp;
  const auto csv = (tmp / "t.csv").string();
  auto a = run_pepr({"track", "-q", "--append", csv, "--label", std::string("tab\vbed"), "--column",
                     "accuracy=0.8", "--", "true"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  auto s = run_pepr({"score", csv});
  EXPECT_EQ(s.exit_code, 0) << s.err;
}

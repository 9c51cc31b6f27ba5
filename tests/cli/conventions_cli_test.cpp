// CLI conventions: usage errors exit 2 and name the closest command, error texts name the
// options in plain numbers, help fits 100 columns, output formats come from known extensions.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "support/test_support.hpp"

using pepr::test::run_pepr;
using pepr::test::TempDir;
using pepr::test::write_file;

namespace {

const char* kTable =
    "model,dataset,acc,energy_kwh,time_s\n"
    "a,x,0.9,2,10\n"
    "b,x,0.8,1,20\n"
    "c,x,0.6,3,30\n";

}  // namespace

TEST(CliConventions, UsageErrorsExitTwo) {
  TempDir dir;
  write_file(dir / "t.csv", kTable);
  const std::string t = (dir / "t.csv").string();
  const std::vector<std::vector<std::string>> cases{
      {"score"},                         // missing INPUT
      {"score", t, "--no-such-option"},  // unknown option
      {"score", t, "--alpha", "0.5"},    // a value out of range
      {"score", t, "--alpha", "abc"},    // not a number
      {},                                // no command
      {"data", "synth"},                 // missing -o
      {"report", t},                     // missing -o
  };
  for (const auto& args : cases) {
    auto r = run_pepr(args);
    std::string shown;
    for (const auto& a : args) shown += a + " ";
    EXPECT_EQ(r.exit_code, 2) << shown << "\n" << r.err;
  }
  // Help and version are no errors; a command's own failure is 1.
  EXPECT_EQ(run_pepr({"--help"}).exit_code, 0);
  EXPECT_EQ(run_pepr({"score", "--help"}).exit_code, 0);
  EXPECT_EQ(run_pepr({"--version"}).exit_code, 0);
  EXPECT_EQ(run_pepr({"score", (dir / "missing.csv").string()}).exit_code, 1);
}

TEST(CliConventions, AMistypedCommandNamesTheClosest) {
  auto r = run_pepr({"scroe", "x.csv"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown command 'scroe' (did you mean score?)"), std::string::npos)
      << r.err;
  auto d = run_pepr({"data", "inof", "x.npz"});
  EXPECT_EQ(d.exit_code, 2);
  EXPECT_NE(d.err.find("pepr data: error: unknown command 'inof' (did you mean info?)"),
            std::string::npos)
      << d.err;
  auto far = run_pepr({"frobnicate"});
  EXPECT_EQ(far.exit_code, 2);
  EXPECT_NE(far.err.find("unknown command 'frobnicate'"), std::string::npos) << far.err;
  EXPECT_EQ(far.err.find("did you mean"), std::string::npos) << far.err;
}

TEST(CliConventions, AMisspeltOptionNamesTheClosestOfItsCommand) {
  auto r = run_pepr({"score", "x.csv", "--perfomance", "test_09"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("pepr score: error: unknown option --perfomance (did you mean "
                       "--performance?)"),
            std::string::npos)
      << r.err;
  // An option of another command is suggested from this command's own.
  auto d = run_pepr({"data", "info", "x.npz", "--image-szie=28"});
  EXPECT_EQ(d.exit_code, 2);
  EXPECT_NE(d.err.find("pepr data info: error: unknown option --image-szie (did you mean "
                       "--image-size?)"),
            std::string::npos)
      << d.err;
  auto far = run_pepr({"score", "x.csv", "--frobnicate"});
  EXPECT_EQ(far.exit_code, 2);
  EXPECT_NE(far.err.find("unknown option --frobnicate"), std::string::npos) << far.err;
  EXPECT_EQ(far.err.find("did you mean"), std::string::npos) << far.err;
}

// What bash offers after `words` (the last one being completed), from `pepr completion bash`.
std::string bash_completes(const std::string& script, const std::string& words) {
  pepr::test::TempDir tmp;
  pepr::test::write_file(tmp / "pepr.bash", script);
  const auto r = pepr::test::run(
      {"bash", "-c",
       "source '" + (tmp / "pepr.bash").string() + "'; COMP_WORDS=(" + words +
           "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _pepr; echo \"${COMPREPLY[*]}\""});
  return r.out;
}

TEST(CliConventions, BashCompletionKnowsEveryCommandAndOption) {
  const auto r = run_pepr({"completion", "bash"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(bash_completes(r.out, "pepr sc"), "score\n");
  EXPECT_EQ(bash_completes(r.out, "pepr data in"), "info\n");
  EXPECT_EQ(bash_completes(r.out, "pepr data info x.npz --image-s"), "--image-size\n");
  EXPECT_EQ(bash_completes(r.out, "pepr score x.csv --perf"),
            "--performance --performance-scale\n");
  // Options of one command are not offered for another.
  EXPECT_EQ(bash_completes(r.out, "pepr data list --perf"), "\n");
  EXPECT_NE(run_pepr({"completion", "zsh"}).exit_code, 0);
}

TEST(CliConventions, VersionNamesTheLibTorchBuild) {
  auto r = run_pepr({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("pepr ", 0), 0u) << r.out;
  // "LibTorch 1.13.0, CPU only (built without CUDA)", "LibTorch 2.11.0 with CUDA: 1 GPU
  // visible", or a build without LibTorch.
  EXPECT_TRUE(r.out.find("\nLibTorch ") != std::string::npos ||
              r.out.find("\nwithout LibTorch") != std::string::npos)
      << r.out;
  EXPECT_TRUE(r.out.find("CPU only (built without CUDA)") != std::string::npos ||
              r.out.find(" with CUDA: ") != std::string::npos ||
              r.out.find("without LibTorch") != std::string::npos)
      << r.out;
}

TEST(CliConventions, ErrorsNameOptionsInPlainNumbers) {
  TempDir dir;
  write_file(dir / "t.csv", kTable);
  const std::string t = (dir / "t.csv").string();
  auto a = run_pepr({"score", t, "-p", "acc", "--alpha", "0.5"});
  EXPECT_NE(a.err.find("--alpha: must be >= 1, got 0.5"), std::string::npos) << a.err;
  EXPECT_LT(a.err.size(), 200u) << "no 300-digit bound: " << a.err;
  // Library errors reach the user in the CLI's terms.
  auto n = run_pepr({"score", t, "-p", "acc", "--norm", "maxmin"});
  EXPECT_EQ(n.exit_code, 1);
  EXPECT_NE(n.err.find("pepr: error: --norm 'maxmin': expected minmax, zero or fixed:LO,HI"),
            std::string::npos)
      << n.err;
  auto f = run_pepr({"score", t, "-p", "acc", "--norm", "fixed:0,2"});
  EXPECT_NE(f.err.find("t.csv:4:energy_kwh: 3 lies outside the fixed bounds [0, 2]; use --clip "
                       "to clamp it"),
            std::string::npos)
      << f.err;
}

TEST(CliConventions, NegativeResourceValuesNeedAllowNegative) {
  TempDir dir;
  write_file(dir / "t.csv", "model,acc,energy_kwh\na,0.9,0.002\nb,0.8,-0.001\nc,0.7,0.003\n");
  const std::string t = (dir / "t.csv").string();
  auto r = run_pepr({"score", t, "-p", "acc", "-f", "csv"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("t.csv:3:energy_kwh: negative resource value -0.001 (a cost is >= 0; "
                       "--allow-negative scores it anyway)"),
            std::string::npos)
      << r.err;
  auto ok = run_pepr({"score", t, "-p", "acc", "-f", "csv", "--allow-negative"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("pepr_e"), std::string::npos);
}

TEST(CliConventions, UnknownOutputExtensionIsAnError) {
  TempDir dir;
  write_file(dir / "t.csv", kTable);
  const std::string t = (dir / "t.csv").string();
  auto r = run_pepr({"score", t, "-p", "acc", "-o", (dir / "out.xlsx").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("out.xlsx: unknown extension '.xlsx'"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "out.xlsx"));
  // Known extensions, no extension, or --format: fine.
  EXPECT_EQ(run_pepr({"score", t, "-p", "acc", "-o", (dir / "out.md").string()}).exit_code, 0);
  EXPECT_EQ(run_pepr({"score", t, "-p", "acc", "-o", (dir / "out.txt").string()}).exit_code, 0);
  EXPECT_EQ(run_pepr({"score", t, "-p", "acc", "-o", (dir / "out").string()}).exit_code, 0);
  EXPECT_EQ(
      run_pepr({"score", t, "-p", "acc", "-f", "csv", "-o", (dir / "o.xlsx").string()}).exit_code,
      0);
  auto c = run_pepr({"collect", dir.path().string(), "-o", (dir / "r.xlsx").string()});
  EXPECT_NE(c.err.find("unknown extension '.xlsx'"), std::string::npos) << c.err;
}

// Every command that prints a table takes -f/--format and -o/--output (atomic), the format
// from -o's extension unless -f says: pepr data list and info (JSON with their own fields), pepr
// meters (text or JSON; other extensions refused, nothing written).
TEST(CliConventions, EveryTableTakesFormatAndOutput) {
  TempDir dir;
  const std::string npz = (dir / "s.npz").string();
  ASSERT_EQ(run_pepr({"data", "synth", "-o", npz, "--classes", "3", "--train", "30", "--val", "6",
                      "--test", "9"})
                .exit_code,
            0);
  auto list = run_pepr({"data", "list", "-f", "csv"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.out.rfind("name,modality,task,channels,classes,train,val,test,cached_px\n", 0), 0u)
      << list.out;
  EXPECT_NE(list.out.find("\npneumoniamnist,"), std::string::npos) << list.out;
  auto list_md = run_pepr({"data", "list", "-o", (dir / "catalogue.md").string()});
  ASSERT_EQ(list_md.exit_code, 0) << list_md.err;
  EXPECT_EQ(list_md.out, "");
  EXPECT_EQ(pepr::test::read_file(dir / "catalogue.md").rfind("| name | modality |", 0), 0u);
  auto info = run_pepr({"data", "info", npz, "-o", (dir / "info.csv").string()});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_EQ(pepr::test::read_file(dir / "info.csv"),
            "split,images,image_shape,image_dtype,label_shape,label_dtype,class_counts\n"
            "train,30,30x28x28,|u1,30x1,|u1,0:10 1:10 2:10\n"
            "val,6,6x28x28,|u1,6x1,|u1,0:2 1:2 2:2\n"
            "test,9,9x28x28,|u1,9x1,|u1,0:3 1:3 2:3\n");
  auto info_json = run_pepr({"data", "info", npz, "-o", (dir / "info.json").string()});
  ASSERT_EQ(info_json.exit_code, 0) << info_json.err;
  EXPECT_NE(pepr::test::read_file(dir / "info.json").find("\"num_classes\": 3"), std::string::npos);
  auto info_tex = run_pepr({"data", "info", npz, "--format", "latex"});
  EXPECT_NE(info_tex.out.find("\\begin{tabular}"), std::string::npos) << info_tex.out;
  auto meters = run_pepr({"meters", "--window", "0.05", "-o", (dir / "m.json").string()});
  ASSERT_EQ(meters.exit_code, 0) << meters.err;
  EXPECT_EQ(pepr::test::read_file(dir / "m.json").rfind("{", 0), 0u);
  auto meters_csv = run_pepr({"meters", "--window", "0.05", "-o", (dir / "m.csv").string()});
  EXPECT_EQ(meters_csv.exit_code, 1);
  EXPECT_NE(meters_csv.err.find("m.csv: pepr meters writes text (.txt, or no extension) or JSON"),
            std::string::npos)
      << meters_csv.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "m.csv"));
}

TEST(CliConventions, HelpLinesFitOneHundredColumns) {
  std::vector<std::vector<std::string>> helps{{"--help"}};
  for (const char* c : {"score", "curve", "pareto", "stats", "track", "meters", "bench", "collect",
                        "report", "zoo", "weights", "data"})
    helps.push_back({c, "--help"});
  for (const char* c : {"info", "synth", "list", "pull"}) helps.push_back({"data", c, "--help"});
  for (const auto& args : helps) {
    auto r = run_pepr(args);
    ASSERT_EQ(r.exit_code, 0) << args[0];
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line))
      EXPECT_LE(line.size(), 100u) << "pepr " << args[0] << " --help:\n" << line;
  }
}

TEST(CliConventions, ComparisonErrorsNameTheOptions) {
  TempDir dir;
  write_file(dir / "t.csv", kTable);
  auto r = run_pepr({"stats", (dir / "t.csv").string(), "-v", "acc"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("; give --split or --experiments"), std::string::npos) << r.err;
  auto e = run_pepr({"stats", (dir / "t.csv").string(), "-v", "acc", "--experiments", "x,y"});
  EXPECT_NE(e.err.find("--experiments needs --group-by"), std::string::npos) << e.err;
}

// The analysis subcommands end to end: the pepr binary on small tables made here, and on the
// paper's published results where present.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/table.hpp"
#include "support/test_support.hpp"

using pepr::test::run_pepr;
using pepr::test::TempDir;
using pepr::test::write_file;

namespace {

const char* kGood =
    "model,dataset,test_00,test_01,energy,train_time,num_param,type,efficient\n"
    "a,x,0.5,0.8,2,10,1e6,CNN,1\n"
    "b,x,0.6,0.7,1,20,2e6,CNN,0\n"
    "c,x,0.4,0.9,3,30,3e6,Other,1\n"
    "d,x,0.3,0.6,4,5,4e6,Other,0\n";

// Runs pepr with `-o out` on `content` and checks: non-zero exit, the message, no output file.
void expect_rejected(const std::string& content, const std::vector<std::string>& extra,
                     const std::string& message) {
  TempDir dir;
  write_file(dir / "in.csv", content);
  std::vector<std::string> args{"score", (dir / "in.csv").string(), "-o",
                                (dir / "out.csv").string()};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = run_pepr(args);
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.err.find(message), std::string::npos) << "stderr: " << r.err.substr(0, 300);
  EXPECT_LT(r.err.size(), 1000u) << "error messages stay short";
  EXPECT_FALSE(std::filesystem::exists(dir / "out.csv"));
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path())) (void)e, ++files;
  EXPECT_EQ(files, 1) << "something was left in the output folder";
}

}  // namespace

TEST(ScoreCli, WritesScoresKeepingEveryColumn) {
  TempDir dir;
  write_file(dir / "in.csv", kGood);
  auto r = run_pepr({"score", (dir / "in.csv").string(), "-r", "energy", "-r", "time=train_time",
                     "-o", (dir / "out.csv").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto t = pepr::Table::read_csv((dir / "out.csv").string());
  EXPECT_EQ(t.num_rows(), 4u);
  EXPECT_EQ(t.num_columns(), 9u + 1u + 4u);  // + P (from last:test_) + E_n, pepr_e, T_n, pepr_t
  EXPECT_EQ(t.cell(0, t.require_column("P")), "0.8");
  // P = last:test_ = test_01; energy minmax: a (2) -> 1/3, so 0.8 / (4/3) = 0.6.
  EXPECT_DOUBLE_EQ(t.number(0, t.require_column("pepr_e")), 0.8 / (1 + 1.0 / 3.0));
  EXPECT_DOUBLE_EQ(t.number(3, t.require_column("T_n")), 0.0);
}

TEST(ScoreCli, TopKFormats) {
  TempDir dir;
  write_file(dir / "in.csv", kGood);
  auto in = (dir / "in.csv").string();
  auto md = run_pepr({"score", in, "--top", "2", "-f", "markdown"});
  ASSERT_EQ(md.exit_code, 0) << md.err;
  EXPECT_NE(md.out.find("| rank | model |"), std::string::npos) << md.out;
  EXPECT_EQ(md.out.find("| d |"), std::string::npos) << "top 2 keeps 2 rows";
  auto js = run_pepr({"score", in, "-f", "json"});
  ASSERT_EQ(js.exit_code, 0);
  EXPECT_NE(js.out.find("\"pepr_e\": "), std::string::npos);
  auto tex = run_pepr({"score", in, "-f", "latex"});
  EXPECT_NE(tex.out.find("\\begin{tabular}"), std::string::npos);
  auto tsv = run_pepr({"score", in, "-f", "table"});
  EXPECT_NE(tsv.out.find("pepr_e"), std::string::npos);
  auto bad = run_pepr({"score", in, "-f", "xml"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("unknown format 'xml'"), std::string::npos);
}

TEST(ScoreCli, BadInputIsRejectedAndNothingIsWritten) {
  expect_rejected(kGood, {"-r", "energy=watts"}, "no column 'watts'");
  expect_rejected(kGood, {"-p", "acc"}, "no column 'acc'");
  expect_rejected("model,test_01,energy\na,0.5,1\nb,0.7,x1\n", {},
                  "in.csv:3:energy: 'x1' is not a number");
  expect_rejected("", {}, "empty file");
  expect_rejected("model,test_01,energy\na,0.5,1\nb,nan,2\n", {},
                  "in.csv:3:test_01: 'nan' is not a finite number");
  expect_rejected("model,test_01,energy\na,0.5,inf\n", {},
                  "in.csv:2:energy: 'inf' is not a finite number");
  expect_rejected("model,test_01,energy\na,85,1\n", {},
                  "in.csv:2:test_01: performance 85 is outside [0, 1]");
  expect_rejected(kGood, {"-g", "experiment"}, "no column 'experiment'");
  std::string garbage(
      "\x7f"
      "ELF\x02\x01\x01",
      7);
  garbage += std::string("\0\0\0\0\x03\0>\0", 8);
  expect_rejected(garbage, {}, "this is not a CSV file");
  expect_rejected("model,test_01,energy\na,0.5," + std::string(3 << 20, '1') + "\n", {},
                  "in.csv:2: record longer than 1048576 bytes");
}

TEST(ScoreCli, HelpAndUsageErrors) {
  auto h = run_pepr({"score", "--help"});
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_NE(h.out.find("--group-by"), std::string::npos);
  auto none = run_pepr({});
  EXPECT_NE(none.exit_code, 0);
  auto missing = run_pepr({"score", "/nonexistent/x.csv"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("/nonexistent/x.csv: cannot open"), std::string::npos);
}

TEST(CurveParetoStatsCli, RunOnASmallTable) {
  TempDir dir;
  write_file(dir / "in.csv", kGood);
  auto in = (dir / "in.csv").string();
  auto c = run_pepr({"curve", in, "-f", "csv"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  auto ct = pepr::Table::parse_csv(c.out, "curve");
  EXPECT_EQ(ct.num_rows(), 4u);
  EXPECT_TRUE(ct.find_column("P_star"));
  auto p = run_pepr({"pareto", in, "-f", "csv"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  auto pt = pepr::Table::parse_csv(p.out, "pareto");
  // (R, P): a (2, .8), b (1, .7), c (3, .9), d (4, .6): d is dominated.
  EXPECT_EQ(pt.num_rows(), 3u);
  auto s = run_pepr({"stats", in, "--split", "type", "-f", "csv"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  auto st = pepr::Table::parse_csv(s.out, "stats");
  ASSERT_EQ(st.num_rows(), 1u);
  EXPECT_EQ(st.cell(0, st.require_column("a")), "type=CNN");
}

TEST(ScoreCli, PaperTableEndToEnd) {
  PEPR_REQUIRE_SHARED(path, "pepr-paper/all_results.csv");
  auto r = run_pepr({"score", path.string(), "-g", "dataset", "-p", "test_09", "-r", "energy",
                     "--top", "5", "-f", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto t = pepr::Table::parse_csv(r.out, "out");
  ASSERT_EQ(t.num_rows(), 40u);
  std::vector<std::string> derma_pt;
  for (std::size_t i = 0; i < t.num_rows(); ++i)
    if (t.cell(i, t.require_column("dataset")) == "derma_pt")
      derma_pt.emplace_back(t.cell(i, t.require_column("model")));
  EXPECT_EQ(derma_pt, (std::vector<std::string>{"ghostnet_100", "ese_vovnet19b_dw", "fbnetc_100",
                                                "mobilenetv2_050", "mnasnet_100"}));
}

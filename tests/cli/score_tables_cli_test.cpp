// pepr score and pepr report on several tables (a sweep's collected table beside pepr track
// rows), and what they say about the rows they rank: estimates, loaded machines, chance, units.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/table.hpp"
#include "support/test_support.hpp"

using pepr::test::read_file;
using pepr::test::run_pepr;
using pepr::test::TempDir;
using pepr::test::write_file;

namespace {

// pepr collect's columns (the ones that matter here) and pepr track's with --model/--dataset.
const char* kCollected =
    "model,num_param,energy,co2,train_time,memR,test_00,test_01,dataset,energy_kwh,co2_g,time_s,"
    "mem_peak_gb,params,test_acc,energy_method,others_busy_cores\n"
    "resnet18,11,0.004,1.9,40,0.5,0.7,0.9,pneu,0.004,1.9,40,0.5,11e6,0.9,rapl,0\n"
    "mobilenetv3_small_050,1,0.001,0.5,10,0.2,0.6,0.8,pneu,0.001,0.5,10,0.2,1e6,0.8,rapl,0\n";
const char* kTracked =
    "model,dataset,label,time_s,cpu_time_s,energy_kwh,energy_raw_kwh,energy_idle_kwh,co2_g,"
    "mem_peak_gb,gpu_mem_peak_gb,energy_method,intensity_g_per_kwh,pue,country,exit_code,"
    "others_busy_cores,test_acc\n"
    "my_script,pneu,python3,5,4,0.0025,0.0025,0,1.2,0.1,,estimate,480,1,,0,0,0.85\n";

struct Files {
  TempDir dir;
  std::string results = (dir / "results.csv").string();
  std::string tracked = (dir / "tracked.csv").string();
  std::string out = (dir / "out.csv").string();
  Files(const std::string& a = kCollected, const std::string& b = kTracked) {
    write_file(results, a);
    write_file(tracked, b);
  }
};

std::string cell(const pepr::Table& t, std::size_t row, const std::string& col) {
  return std::string(t.cell(row, t.require_column(col)));
}

}  // namespace

TEST(ScoreTablesCli, ATrackedRunIsRankedBesideASweepOnTheEnergyEveryTableHas) {
  Files f;
  auto r = run_pepr({"score", f.results, f.tracked, "-g", "dataset", "--top", "3", "-o", f.out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto t = pepr::Table::read_csv(f.out);
  ASSERT_EQ(t.num_rows(), 3u);
  // P = test_acc (test_NN only in results.csv), energy = energy_kwh (energy only there).
  // energy_kwh 0.004, 0.001, 0.0025 -> E_n 1, 0, 0.5; PePR-E 0.45, 0.8, 0.85 / 1.5.
  EXPECT_EQ(cell(t, 0, "model"), "mobilenetv3_small_050");
  EXPECT_EQ(cell(t, 1, "model"), "my_script");
  EXPECT_EQ(cell(t, 2, "model"), "resnet18");
  EXPECT_DOUBLE_EQ(t.number(1, t.require_column("pepr_e")), 0.85 / 1.5);
  EXPECT_EQ(cell(t, 1, "source"), f.tracked);
  EXPECT_EQ(cell(t, 0, "source"), f.results);
  // The tracked energy is an estimate: said per row (CSV has no notes) and on stderr.
  EXPECT_EQ(cell(t, 1, "caveats"), "energy estimate");
  EXPECT_EQ(cell(t, 0, "caveats"), "");
  EXPECT_NE(r.err.find("warning: energy of 1 of 3 rows is an estimate"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("ranked beside measured energies"), std::string::npos) << r.err;

  // The table view says it too, names the files and the unit of every energy column.
  auto v = run_pepr({"score", f.results, f.tracked, "-g", "dataset", "--all-columns"});
  ASSERT_EQ(v.exit_code, 0) << v.err;
  EXPECT_NE(v.out.find("energy (kWh)"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("co2 (g)"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("train_time (s)"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("memR (GB)"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("2 tables ranked together"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("is an estimate"), std::string::npos) << v.out;
  // JSON: the caveats column and the note.
  auto j = run_pepr({"score", f.results, f.tracked, "-g", "dataset", "-f", "json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  EXPECT_NE(j.out.find("\"caveats\": \"energy estimate\""), std::string::npos) << j.out;
}

TEST(ScoreTablesCli, ATableWithoutTheColumnIsNamedAndNothingIsWritten) {
  // The tracked table has no performance column the other has.
  Files f(kCollected,
          "model,dataset,energy_kwh,accuracy\n"
          "my_script,pneu,0.0025,0.85\n");
  auto r = run_pepr({"score", f.results, f.tracked, "-p", "test_acc", "-o", f.out});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(f.tracked + ": no column 'test_acc' (the performance"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("--rename"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(f.out));
  // A resource named as a column that only one table has.
  auto m = run_pepr({"score", f.results, f.tracked, "-p", "test_acc", "--rename",
                     "accuracy=test_acc", "-r", "memory=memR", "-o", f.out});
  EXPECT_NE(m.exit_code, 0);
  EXPECT_NE(m.err.find(f.tracked + ": no column 'memR' (--resource 'memory=memR'"),
            std::string::npos)
      << m.err;
  EXPECT_FALSE(std::filesystem::exists(f.out));
  // With the mapping stated, they rank together.
  auto ok = run_pepr({"score", f.results, f.tracked, "--rename", "accuracy=test_acc", "-o", f.out});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(pepr::Table::read_csv(f.out).num_rows(), 3u);
  // A bad cell is located in its own file.
  Files bad(kCollected, "model,dataset,energy_kwh,test_acc\nx,pneu,0.001,0.5\ny,pneu,lots,0.6\n");
  auto b = run_pepr({"score", bad.results, bad.tracked, "-o", bad.out});
  EXPECT_NE(b.exit_code, 0);
  EXPECT_NE(b.err.find(bad.tracked + ":3"), std::string::npos) << b.err;
  EXPECT_FALSE(std::filesystem::exists(bad.out));
}

TEST(ScoreTablesCli, OldTrackedRowsWithALabelAreRankedByRenamingIt) {
  Files f(kCollected,
          "label,time_s,energy_kwh,test_acc,dataset\n"
          "old_script,5,0.002,0.7,pneu\n");
  auto r = run_pepr({"score", f.results, f.tracked, "--rename", "label=model", "-o", f.out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto t = pepr::Table::read_csv(f.out);
  EXPECT_EQ(cell(t, 2, "model"), "old_script");
  EXPECT_FALSE(t.find_column("label"));
  auto typo = run_pepr({"score", f.results, f.tracked, "--rename", "lable=model"});
  EXPECT_NE(typo.exit_code, 0);
  EXPECT_NE(typo.err.find("no table has a column 'lable'"), std::string::npos) << typo.err;
}

TEST(ScoreTablesCli, SeveralDatasetsWithoutGroupByGetAHint) {
  Files f("model,dataset,test_acc,energy_kwh\na,x,0.9,1\nb,y,0.8,2\n");
  auto r = run_pepr({"score", f.results});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("hint: the table has 2 datasets"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("-g dataset"), std::string::npos) << r.err;
  auto g = run_pepr({"score", f.results, "-g", "dataset"});
  ASSERT_EQ(g.exit_code, 0) << g.err;
  EXPECT_EQ(g.err.find("hint"), std::string::npos) << g.err;
  Files one("model,dataset,test_acc,energy_kwh\na,x,0.9,1\nb,x,0.8,2\n");
  auto o = run_pepr({"score", one.results});
  EXPECT_EQ(o.err.find("hint"), std::string::npos) << o.err;
}

TEST(ScoreTablesCli, LoadedChanceAndMixedPueRowsAreMarked) {
  Files f(
      "model,test_acc,energy_kwh,others_busy_cores,chance_accuracy,pue\n"
      "a,0.9,1,0,0.6,1\n"
      "b,0.6,2,1.2,0.6,1.58\n");
  auto r = run_pepr({"score", f.results});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("loaded machine; at chance"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("LOADED MACHINE: 1 of 2 rows"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 of 2 rows perform at chance"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("different PUE (pue: 1, 1.58)"), std::string::npos) << r.out;
}

TEST(ReportTablesCli, ATrackedRunIsInTheReportWithItsEstimateSaid) {
  Files f;
  const std::string dir = (f.dir / "report").string();
  auto r = run_pepr({"report", f.results, f.tracked, "-g", "dataset", "-o", dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string html = read_file(std::filesystem::path(dir) / "index.html");
  EXPECT_NE(html.find("my_script"), std::string::npos);
  EXPECT_NE(html.find("energy of 1 of 3 rows is an estimate"), std::string::npos);
  EXPECT_NE(html.find(f.tracked), std::string::npos) << "the inputs are named";
  auto top = pepr::Table::read_csv(dir + "/tables/top_pepr_e.csv");
  ASSERT_TRUE(top.find_column("caveats"));
  bool flagged = false;
  for (std::size_t i = 0; i < top.num_rows(); ++i)
    if (cell(top, i, "model") == "my_script") {
      flagged = true;
      EXPECT_EQ(cell(top, i, "caveats"), "energy estimate");
    }
  EXPECT_TRUE(flagged);
  const std::string md = read_file(std::filesystem::path(dir) / "tables/top_pepr_e.md");
  EXPECT_NE(md.find("is an estimate"), std::string::npos) << md;
  // A column one table lacks: the file is named, no report is written.
  Files g(kCollected, "model,dataset,energy_kwh,test_acc\nx,pneu,0.001,0.5\n");
  const std::string d2 = (g.dir / "report").string();
  auto b = run_pepr(
      {"report", g.results, g.tracked, "-g", "dataset", "-r", "time=train_time", "-o", d2});
  EXPECT_NE(b.exit_code, 0);
  EXPECT_NE(b.err.find(g.tracked + ": no column 'train_time'"), std::string::npos) << b.err;
  EXPECT_FALSE(std::filesystem::exists(d2));
}

TEST(ScoreTablesCli, ARankingSaysWhetherItsTopIsWithinTheMeasurementNoise) {
  // a and b: equal accuracy, energies 2 % apart; c far behind. pepr's own columns say each run's
  // per-run error (one method: the systematic part cancels in min-max).
  const std::string table =
      "model,dataset,test_acc,energy_kwh,energy_kwh_lo,energy_kwh_hi,energy_method,"
      "energy_error_per_run\n"
      "a,x,0.80,1.00,0.93,1.07,rapl-powercap,0.02\n"
      "b,x,0.80,1.02,0.95,1.09,rapl-powercap,0.02\n"
      "c,x,0.60,3.00,2.80,3.21,rapl-powercap,0.02\n";
  Files f(table);
  auto r = run_pepr({"score", f.results, "-g", "dataset", "--top", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("the top-1 (a) is NOT robust: within the noise of 1 other: b"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("systematic part cancels"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("pepr_e_lo"), std::string::npos) << r.out;
  // CSV: the interval columns, the verdict on stderr.
  r = run_pepr({"score", f.results, "-g", "dataset", "--top", "3", "-o", f.out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto t = pepr::Table::read_csv(f.out);
  auto num = [&](std::size_t row, const char* col) { return t.number(row, t.require_column(col)); };
  // a has the least energy: R = 0 at best (its upper bound is P), above 0 if b's lower bound
  // undercuts it. b's interval is open on both sides.
  EXPECT_LT(num(0, "pepr_e_lo"), num(0, "pepr_e"));
  EXPECT_DOUBLE_EQ(num(0, "pepr_e_hi"), 0.80);
  EXPECT_LT(num(1, "pepr_e_lo"), num(1, "pepr_e"));
  EXPECT_GT(num(1, "pepr_e_hi"), num(1, "pepr_e"));
  EXPECT_GT(num(1, "pepr_e_hi"), num(0, "pepr_e_lo"));  // the overlap that makes it not robust
  EXPECT_NE(r.err.find("NOT robust"), std::string::npos) << r.err;
  // A table without bounds (the paper's): --energy-error gives them; without it, no verdict.
  Files paper("model,dataset,test_09,energy\na,x,0.8,1.0\nb,x,0.7,2.0\nc,x,0.5,3.0\n");
  r = run_pepr({"score", paper.results, "-g", "dataset", "-p", "test_09", "--top", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("robust"), std::string::npos) << r.out;
  r = run_pepr({"score", paper.results, "-g", "dataset", "-p", "test_09", "--top", "2",
                "--energy-error", "0.05"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("the top-1 (a) is robust"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("the top 2 is robust"), std::string::npos) << r.out;
  r = run_pepr({"score", paper.results, "-g", "dataset", "-p", "test_09", "--energy-error", "0.1"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("needs a ranking"), std::string::npos) << r.err;
}

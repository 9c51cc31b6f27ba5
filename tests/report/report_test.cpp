// pepr report end to end: the paper's published results (when ../shared/data is present),
// tables made here in pepr's own naming, and bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "core/table.hpp"
#include "report/fixtures.hpp"
#include "report/report.hpp"
#include "report/svg_check.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using pepr::test::read_file;
using pepr::test::run_pepr;
using pepr::test::TempDir;
using pepr::test::write_file;

namespace {

// Rows of `table` by the values of `column`.
std::map<std::string, std::size_t> count_by(const pepr::Table& table, const std::string& column) {
  std::map<std::string, std::size_t> n;
  std::size_t c = table.require_column(column);
  for (std::size_t r = 0; r < table.num_rows(); ++r) ++n[std::string(table.cell(r, c))];
  return n;
}

// Everything under `dir`, relative, sorted.
std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    out.push_back(fs::relative(e.path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

const std::vector<std::string> kPaperFigures{"isoclines",
                                             "pepr_curve",
                                             "model_space",
                                             "violin_pretraining",
                                             "violin_data_fraction",
                                             "p_pepr_vs_params",
                                             "pareto",
                                             "pepr_c_vs_params",
                                             "pepr_m_vs_params",
                                             "pepr_t_vs_params",
                                             "small_vs_large",
                                             "paper_fig4_model_space",
                                             "paper_fig5ab_violins",
                                             "paper_fig5c_performance",
                                             "paper_fig5d_pepr",
                                             "paper_fig6_epochs",
                                             "paper_fig7_pepr_scores"};

}  // namespace

// One report of the paper's all_results.csv, made once for the tests below.
class PaperReport : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto csv = pepr::test::shared_data("pepr-paper/all_results.csv");
    if (!csv) return;
    input_ = *csv;
    dir_ = std::make_unique<TempDir>();
    result_ = run_pepr({"report", csv->string(), "-g", "dataset", "-p", "test_09", "-o",
                        (dir_->path() / "report").string()});
  }
  static void TearDownTestSuite() { dir_.reset(); }
  void SetUp() override {
    if (!dir_)
      GTEST_SKIP() << "needs ../shared/data/pepr-paper/all_results.csv (the PePR paper's "
                      "published data); not found, skipping";
    ASSERT_EQ(result_.exit_code, 0) << result_.err;
  }
  static fs::path report() { return dir_->path() / "report"; }

  static inline std::unique_ptr<TempDir> dir_;
  static inline pepr::test::RunResult result_;
  static inline fs::path input_;
};

TEST_F(PaperReport, DermaPtPeprETableListsTheAuthorsTopFive) {
  PEPR_REQUIRE_SHARED(ref_path, "pepr-paper/full_data_pepr_dataset_level.csv");
  auto top = pepr::Table::read_csv((report() / "tables/top_pepr_e.csv").string());
  auto ref = pepr::Table::read_csv(ref_path.string());
  std::map<std::string, double> authors;  // model -> pepr_e in derma_pt
  for (std::size_t r = 0; r < ref.num_rows(); ++r)
    if (ref.cell(r, ref.require_column("dataset")) == "derma_pt")
      authors[std::string(ref.cell(r, ref.require_column("model")))] =
          ref.number(r, ref.require_column("pepr_e"));
  ASSERT_EQ(authors.size(), 131u);

  std::vector<std::string> models;
  std::vector<double> scores;
  std::vector<std::string> ranks;
  std::string best_p_model;
  for (std::size_t r = 0; r < top.num_rows(); ++r) {
    if (top.cell(r, top.require_column("experiment")) != "derma_pt") continue;
    if (top.cell(r, top.require_column("selected_by")) == "P") {
      best_p_model = top.cell(r, top.require_column("model"));
      continue;
    }
    EXPECT_EQ(top.cell(r, top.require_column("selected_by")), "pepr_e");
    models.emplace_back(top.cell(r, top.require_column("model")));
    scores.push_back(top.number(r, top.require_column("pepr_e")));
    ranks.emplace_back(top.cell(r, top.require_column("rank")));
  }
  EXPECT_EQ(models, (std::vector<std::string>{"ghostnet_100", "ese_vovnet19b_dw", "fbnetc_100",
                                              "mobilenetv2_050", "mnasnet_100"}));
  EXPECT_EQ(ranks, (std::vector<std::string>{"1", "2", "3", "4", "5"}));
  for (std::size_t i = 0; i < models.size(); ++i)
    EXPECT_NEAR(scores[i], authors.at(models[i]), 1e-9) << models[i];

  // The best model by test performance alone closes the experiment's block.
  auto all = pepr::Table::read_csv(input_.string());
  std::string best;
  double best_p = -1;
  for (std::size_t r = 0; r < all.num_rows(); ++r)
    if (all.cell(r, all.require_column("dataset")) == "derma_pt" &&
        all.number(r, all.require_column("test_09")) > best_p) {
      best_p = all.number(r, all.require_column("test_09"));
      best = all.cell(r, all.require_column("model"));
    }
  EXPECT_EQ(best_p_model, best);

  // The same table for people.
  std::string md = read_file(report() / "tables/top_pepr_e.md");
  EXPECT_NE(md.find("| derma_pt | 1 | PePR-E | ghostnet_100 | CNN | 1 |"), std::string::npos)
      << md.substr(0, 800);
  EXPECT_NE(md.find("| experiment | rank | by | model | type | eff. | params (M) | memory (GB) | "
                    "energy (Wh) | time (s) | P | PePR-E |"),
            std::string::npos);
  std::string tex = read_file(report() / "tables/top_pepr_e.tex");
  EXPECT_NE(tex.find("derma\\_pt & 1 & PePR-E & ghostnet\\_100"), std::string::npos);
  EXPECT_NE(read_file(report() / "index.html").find("<td>ghostnet_100</td>"), std::string::npos);
}

TEST_F(PaperReport, EverySvgIsWellFormedXmlWithATooltipOnEveryPoint) {
  std::set<std::string> found;
  for (const auto& e : fs::directory_iterator(report() / "figures")) {
    ASSERT_EQ(e.path().extension(), ".svg") << e.path();
    std::string stem = e.path().stem().string();
    found.insert(stem);
    std::string text = read_file(e.path());
    auto info = pepr::test::check_svg(text);
    ASSERT_TRUE(info.well_formed) << e.path() << ": " << info.error;
    EXPECT_EQ(info.root, "svg");
    EXPECT_EQ(info.root_id, "fig-" + stem);
    EXPECT_EQ(info.titled_points, info.points) << stem << ": a point without a <title>";
    for (const auto& p : info.panels)
      EXPECT_EQ(static_cast<long>(p.points), p.declared) << stem << " " << p.experiment;
    // Nothing to fetch: the only URL is the SVG namespace.
    std::size_t at = 0, urls = 0;
    while ((at = text.find("http", at)) != std::string::npos) {
      EXPECT_EQ(text.compare(at - 7, 34, "xmlns=\"http://www.w3.org/2000/svg\""), 0)
          << stem << ": " << text.substr(at, 60);
      ++urls, at += 4;
    }
    EXPECT_EQ(urls, 1u) << stem;
    EXPECT_EQ(text.find("href"), std::string::npos) << stem;
  }
  std::set<std::string> expected(kPaperFigures.begin(), kPaperFigures.end());
  expected.insert("findings");  // the findings' figure at a glance, in the first section
  EXPECT_EQ(found, expected);
}

TEST_F(PaperReport, ScatterFiguresHoldEveryModelOfEveryExperiment) {
  auto per_experiment = count_by(pepr::Table::read_csv(input_.string()), "dataset");
  ASSERT_EQ(per_experiment.size(), 8u);
  for (const auto& [name, n] : per_experiment) EXPECT_EQ(n, 131u) << name;
  auto svg = [&](const std::string& name) {
    return pepr::test::check_svg(read_file(report() / "figures" / (name + ".svg")));
  };
  for (const char* name :
       {"model_space", "pareto", "pepr_c_vs_params", "pepr_m_vs_params", "pepr_t_vs_params"}) {
    auto info = svg(name);
    ASSERT_EQ(info.panels.size(), 8u) << name;
    std::set<std::string> seen;
    for (const auto& p : info.panels) {
      EXPECT_EQ(p.points, per_experiment.at(p.experiment)) << name << " " << p.experiment;
      seen.insert(p.experiment);
    }
    EXPECT_EQ(seen.size(), 8u) << name;
    EXPECT_EQ(info.points, 8u * 131u) << name;
  }
  auto pp = svg("p_pepr_vs_params");
  ASSERT_EQ(pp.panels.size(), 16u);
  for (const auto& p : pp.panels) {
    EXPECT_TRUE(p.label == "P" || p.label == "PePR-E") << p.label;
    EXPECT_EQ(p.points, per_experiment.at(p.experiment));
  }
  // Pareto panels: each front drawn, each knee marked.
  auto pareto = svg("pareto");
  EXPECT_EQ(pareto.classes["front"], 8u);
  EXPECT_EQ(pareto.classes["knee"], 8u);
  // Violins: every model of both experiments, for P and PePR-E.
  auto pre = svg("violin_pretraining");
  ASSERT_EQ(pre.panels.size(), 1u);
  EXPECT_EQ(pre.panels[0].experiment, "derma_pt vs derma");
  EXPECT_EQ(pre.panels[0].points, 2u * (131u + 131u));
  EXPECT_EQ(pre.classes["violin"], 4u);
  auto frac = svg("violin_data_fraction");
  ASSERT_EQ(frac.panels.size(), 3u);
  EXPECT_EQ(frac.panels[0].experiment, "derma_small vs derma_pt");
  EXPECT_EQ(frac.panels[1].experiment, "lidc_small vs lidc");
  EXPECT_EQ(frac.panels[2].experiment, "pneumonia_small vs pneumonia");
  for (const auto& p : frac.panels) EXPECT_EQ(p.points, 524u);
  // Curves: 10 epochs, P and PePR, one or two models; one P* per model.
  auto curve = svg("pepr_curve");
  ASSERT_EQ(curve.panels.size(), 8u);
  std::size_t stars = 0;
  for (const auto& p : curve.panels) {
    EXPECT_TRUE(p.points == 20u || p.points == 40u) << p.experiment << " " << p.points;
    stars += p.points / 20;
  }
  EXPECT_EQ(curve.classes["pstar"], stars);
  // Issue 32: P* lies on the curve, off R = 0 (R = the cumulative energy over the experiment's
  // largest total; with the tables' min-max bounds 5 of the 8 panels had P* at R = 0), and the
  // curves peak at different epochs.
  const std::string curve_text = read_file(report() / "figures" / "pepr_curve.svg");
  std::set<std::string> star_epochs;
  std::size_t read_stars = 0;
  for (std::size_t at = 0; (at = curve_text.find("P* = ", at)) != std::string::npos; ++at) {
    const auto epoch = curve_text.find(" at epoch ", at), r = curve_text.find(" (R ", at);
    ASSERT_NE(r, std::string::npos);
    star_epochs.insert(curve_text.substr(epoch + 10, r - epoch - 10));
    EXPECT_GT(std::stod(curve_text.substr(r + 4, 12)), 0.0) << curve_text.substr(at, 80);
    ++read_stars;
  }
  EXPECT_EQ(read_stars, stars);
  EXPECT_GE(star_epochs.size(), 5u);
  // Small vs large: a pair of bars per experiment and score, each with its significance.
  auto sl = svg("small_vs_large");
  EXPECT_EQ(sl.classes["bar"], 2u * 8u * 4u);
  EXPECT_EQ(sl.classes["sig"], 8u * 4u);
}

TEST_F(PaperReport, TestsAndManifest) {
  auto tests = pepr::Table::read_csv((report() / "tables/tests.csv").string());
  bool size_split = false;
  for (std::size_t r = 0; r < tests.num_rows(); ++r)
    if (tests.cell(r, tests.require_column("experiment")) == "derma_pt" &&
        tests.cell(r, tests.require_column("comparison")) == "size" &&
        tests.cell(r, tests.require_column("value")) == "pepr_e") {
      size_split = true;
      EXPECT_EQ(tests.number(r, tests.require_column("n_a")) +
                    tests.number(r, tests.require_column("n_b")),
                131);
      // The paper: small models have a significantly higher PePR-E.
      EXPECT_GT(tests.number(r, tests.require_column("median_a")),
                tests.number(r, tests.require_column("median_b")));
      EXPECT_LT(tests.number(r, tests.require_column("p_student")), 0.05);
    }
  EXPECT_TRUE(size_split);
  json m = json::parse(read_file(report() / "manifest.json"));
  EXPECT_EQ(m["schema"], "pepr.report/1");
  EXPECT_EQ(m["pairs"]["pretrained_vs_scratch"], json::parse(R"([["derma_pt","derma"]])"));
  EXPECT_EQ(m["pairs"]["data_10_vs_100"],
            json::parse(R"([["derma_small","derma_pt"],["lidc_small","lidc"],)"
                        R"(["pneumonia_small","pneumonia"]])"));
  EXPECT_EQ(m["figures"].size(), kPaperFigures.size());
  EXPECT_TRUE(m["left_out"].empty());
  // The default resources: energy, co2, memory (memR) and time (train_time).
  EXPECT_EQ(m["resources"].size(), 4u);
  for (const char* f : {"top_pepr_e", "top_pepr_c", "top_pepr_m", "top_pepr_t", "tests", "scores"})
    for (const char* ext : {".csv", ".md", ".tex"})
      EXPECT_TRUE(fs::exists(report() / "tables" / (std::string(f) + ext))) << f << ext;
}

TEST(ReportPeprNaming, PairsOfPeprCollectExperimentsAreFound) {
  // The table's cells point into the text: it lives as long as the table.
  const std::string csv = pepr::test::synthetic_results(
      {"synth", "synth_scratch", "synth_small", "synth_scratch_small"});
  auto table = pepr::Table::parse_csv(csv, "synthetic.csv");
  pepr::report::ReportOptions o;
  o.score.performance = pepr::PerformanceSpec::parse("last:test_");
  for (const auto& r : pepr::report::default_resources(table))
    o.score.resources.push_back(pepr::ResourceSpec::parse(r, table));
  o.score.group_by = "dataset";
  auto rep = pepr::report::build_report(table, o);
  std::map<std::string, const pepr::report::Figure*> figs;
  for (const auto& f : rep.figures.figures) figs[f.name] = &f;
  ASSERT_TRUE(figs.count("violin_pretraining"));
  ASSERT_TRUE(figs.count("violin_data_fraction"));
  const auto& pre = figs["violin_pretraining"]->panels;
  ASSERT_EQ(pre.size(), 2u);
  EXPECT_EQ(pre[0].experiment, "synth vs synth_scratch");
  EXPECT_EQ(pre[1].experiment, "synth_small vs synth_scratch_small");
  const auto& frac = figs["violin_data_fraction"]->panels;
  ASSERT_EQ(frac.size(), 2u);
  EXPECT_EQ(frac[0].experiment, "synth_small vs synth");
  EXPECT_EQ(frac[1].experiment, "synth_scratch_small vs synth_scratch");
  for (const auto& p : frac) EXPECT_EQ(p.points, 2u * (8u + 8u));
  EXPECT_TRUE(rep.figures.left_out.empty());
  // Every figure's SVG parses and its panels hold what they say.
  for (const auto& f : rep.figures.figures) {
    auto info = pepr::test::check_svg(f.svg);
    ASSERT_TRUE(info.well_formed) << f.name << ": " << info.error;
    EXPECT_EQ(info.points, f.points()) << f.name;
  }
  // pepr collect's energy_method column is summarised.
  bool methods = false;
  for (const auto& t : rep.tables) methods = methods || t.name == "energy_methods";
  EXPECT_TRUE(methods);
  EXPECT_EQ(rep.files.back().first, "index.html") << "the index is written last";
  // Half the rows' energy is an estimate: the findings, the first thing read, say so there.
  const std::string& html = rep.files.back().second;
  const auto findings = html.find("<section id=\"findings\">");
  const auto summary = html.find("<section id=\"summary\">");
  const auto estimate = html.find("energy of ", findings);
  ASSERT_NE(findings, std::string::npos);
  ASSERT_NE(estimate, std::string::npos);
  EXPECT_LT(estimate, summary) << "the caveat under the findings";
  EXPECT_NE(html.substr(estimate, 300).find("estimate"), std::string::npos)
      << html.substr(estimate, 300);
}

TEST(ReportCli, FiguresWithoutDataAreLeftOutWithANote) {
  TempDir dir;
  write_file(dir / "in.csv", "model,acc,energy\na,0.5,1\nb,0.7,2\nc,0.6,3\nd,0.65,1.5\n");
  auto r =
      run_pepr({"report", (dir / "in.csv").string(), "-p", "acc", "-o", (dir / "out").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("left out violin_pretraining"), std::string::npos) << r.out;
  std::string html = read_file(dir / "out/index.html");
  EXPECT_NE(html.find("Figures left out"), std::string::npos);
  for (const char* name :
       {"pepr_curve", "model_space", "violin_pretraining", "violin_data_fraction",
        "p_pepr_vs_params", "small_vs_large", "pepr_x_vs_params"}) {
    EXPECT_NE(html.find(std::string("<li><code>") + name + "</code>: "), std::string::npos) << name;
    EXPECT_FALSE(fs::exists(dir / "out/figures" / (std::string(name) + ".svg"))) << name;
  }
  EXPECT_TRUE(fs::exists(dir / "out/figures/isoclines.svg"));
  auto pareto = pepr::test::check_svg(read_file(dir / "out/figures/pareto.svg"));
  ASSERT_TRUE(pareto.well_formed) << pareto.error;
  ASSERT_EQ(pareto.panels.size(), 1u);
  EXPECT_EQ(pareto.panels[0].points, 4u);
}

TEST(ReportCli, RunRecordsShowTheEnvironmentAndMeters) {
  TempDir dir;
  write_file(dir / "results.csv", pepr::test::synthetic_results({"synth", "synth_small"}, 4));
  fs::create_directories(dir / "runs");
  for (int m = 0; m < 4; ++m) {
    json rec{{"schema", "pepr.run/1"},
             {"run_id", "synth-m" + std::to_string(m)},
             {"status", "completed"},
             {"config", {{"device", "cpu"}}},
             {"environment",
              {{"pepr_version", "0.1.0"},
               {"cpu", "Test CPU"},
               {"gpu", nullptr},
               {"libtorch", "2.1"},
               {"threads", 2},
               {"hostname", "testhost"},
               {"meter_methods", {{"cpu", "rapl"}}}}}};
    write_file(dir / "runs" / ("synth-m" + std::to_string(m) + ".json"), rec.dump());
  }
  write_file(dir / "runs/other.json", R"({"schema":"pepr.run/1","run_id":"x","status":"completed",
    "environment":{"hostname":"elsewhere"}})");
  write_file(dir / "runs/broken.json", "{not json");
  auto r = run_pepr({"report", (dir / "results.csv").string(), "-g", "dataset", "--runs",
                     (dir / "runs").string(), "-o", (dir / "out").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto env = pepr::Table::read_csv((dir / "out/tables/environment.csv").string());
  ASSERT_EQ(env.num_rows(), 1u) << "the record not in the table is not counted";
  EXPECT_EQ(env.cell(0, env.require_column("runs")), "4");
  EXPECT_EQ(env.cell(0, env.require_column("hostname")), "testhost");
  EXPECT_EQ(env.cell(0, env.require_column("meter_methods")), "cpu: rapl");
  std::string html = read_file(dir / "out/index.html");
  EXPECT_NE(html.find("<h2>Runs</h2>"), std::string::npos);
  EXPECT_NE(html.find("Energy meter methods"), std::string::npos);
  EXPECT_EQ(html.find("elsewhere"), std::string::npos);
}

TEST(ReportCli, BadInputFailsClearlyAndWritesNothing) {
  TempDir dir;
  const std::string good = pepr::test::synthetic_results({"synth"}, 4);
  write_file(dir / "in.csv", good);
  write_file(dir / "header.csv", "model,test_01,energy\n");
  write_file(dir / "empty.csv", "");
  write_file(dir / "percent.csv", "model,acc,energy\na,50,1\nb,70,2\n");
  const auto before = listing(dir.path());
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::string in = (dir / "in.csv").string(), out = (dir / "out").string();
  std::vector<Case> cases{
      {{in, "-r", "energy=watts", "-o", out}, "no column 'watts'"},
      {{in, "-p", "accuracy", "-o", out}, "no column 'accuracy'"},
      {{in, "-g", "experiment", "-o", out}, "no column 'experiment'"},
      {{in, "--params-column", "size", "-o", out}, "no column 'size'"},
      {{(dir / "header.csv").string(), "-o", out}, "no data rows"},
      {{(dir / "empty.csv").string(), "-o", out}, "empty.csv"},
      {{(dir / "percent.csv").string(), "-p", "acc", "-o", out},
       "percent.csv:2:acc: performance 50 is outside [0, 1]"},
      {{(dir / "missing.csv").string(), "-o", out}, "missing.csv"},
      {{in, "-o", (dir / "in.csv" / "report").string()}, "in.csv/report"},
      {{in, "-o", in}, "exists and is not a folder"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args{"report"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto r = run_pepr(args);
    EXPECT_EQ(r.exit_code, 1) << c.message << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find("pepr: error: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << "stderr: " << r.err;
    EXPECT_LT(r.err.size(), 1000u) << "error messages stay short";
    EXPECT_EQ(listing(dir.path()), before) << "something was written for: " << c.message;
  }
  EXPECT_EQ(read_file(dir / "in.csv"), good);
  // No -o at all is a usage error.
  auto usage = run_pepr({"report", in});
  EXPECT_NE(usage.exit_code, 0);
  EXPECT_NE(usage.err.find("--output"), std::string::npos) << usage.err;
}

TEST(ReportCli, ANewFolderAppearsWholeAndAnExistingOneKeepsOtherFiles) {
  TempDir dir;
  write_file(dir / "in.csv", pepr::test::synthetic_results({"synth", "synth_scratch"}, 5));
  const std::string in = (dir / "in.csv").string();
  // A new folder (and a missing parent): nothing but the report, no temporary folder left.
  auto r = run_pepr({"report", in, "-g", "dataset", "-o", (dir / "a/b/report/").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(listing(dir / "a/b"),
            (std::vector<std::string>{"report",
                                      "report/figures",
                                      "report/figures/findings.svg",
                                      "report/figures/isoclines.svg",
                                      "report/figures/model_space.svg",
                                      "report/figures/p_pepr_vs_params.svg",
                                      "report/figures/paper_fig4_model_space.svg",
                                      "report/figures/paper_fig5ab_violins.svg",
                                      "report/figures/paper_fig5c_performance.svg",
                                      "report/figures/paper_fig5d_pepr.svg",
                                      "report/figures/paper_fig6_epochs.svg",
                                      "report/figures/paper_fig7_pepr_scores.svg",
                                      "report/figures/pareto.svg",
                                      "report/figures/pepr_c_vs_params.svg",
                                      "report/figures/pepr_curve.svg",
                                      "report/figures/pepr_m_vs_params.svg",
                                      "report/figures/pepr_t_vs_params.svg",
                                      "report/figures/small_vs_large.svg",
                                      "report/figures/violin_pretraining.svg",
                                      "report/index.html",
                                      "report/manifest.json",
                                      "report/tables",
                                      "report/tables/energy_methods.csv",
                                      "report/tables/energy_methods.md",
                                      "report/tables/energy_methods.tex",
                                      "report/tables/findings.csv",
                                      "report/tables/findings.md",
                                      "report/tables/findings.tex",
                                      "report/tables/paper_map.csv",
                                      "report/tables/paper_map.md",
                                      "report/tables/paper_map.tex",
                                      "report/tables/reproduction.csv",
                                      "report/tables/reproduction.md",
                                      "report/tables/reproduction.tex",
                                      "report/tables/scores.csv",
                                      "report/tables/scores.md",
                                      "report/tables/scores.tex",
                                      "report/tables/table1_printed.csv",
                                      "report/tables/table1_printed.md",
                                      "report/tables/table1_printed.tex",
                                      "report/tables/tests.csv",
                                      "report/tables/tests.md",
                                      "report/tables/tests.tex",
                                      "report/tables/top_pepr_c.csv",
                                      "report/tables/top_pepr_c.md",
                                      "report/tables/top_pepr_c.tex",
                                      "report/tables/top_pepr_e.csv",
                                      "report/tables/top_pepr_e.md",
                                      "report/tables/top_pepr_e.tex",
                                      "report/tables/top_pepr_m.csv",
                                      "report/tables/top_pepr_m.md",
                                      "report/tables/top_pepr_m.tex",
                                      "report/tables/top_pepr_t.csv",
                                      "report/tables/top_pepr_t.md",
                                      "report/tables/top_pepr_t.tex"}));
  // An existing folder with a file of the user's: refused without --force; with it the user's
  // file is kept and the report written in place.
  fs::create_directories(dir / "mine");
  write_file(dir / "mine/notes.txt", "keep me");
  write_file(dir / "mine/index.html", "old");
  r = run_pepr({"report", in, "-g", "dataset", "--top", "2", "-o", (dir / "mine").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("holds files that are not a pepr report (notes.txt); give --force"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(read_file(dir / "mine/index.html"), "old");
  r = run_pepr(
      {"report", in, "-g", "dataset", "--top", "2", "-o", (dir / "mine").string(), "--force"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(dir / "mine/notes.txt"), "keep me");
  EXPECT_NE(read_file(dir / "mine/index.html"), "old");
  auto top = pepr::Table::read_csv((dir / "mine/tables/top_pepr_e.csv").string());
  EXPECT_EQ(top.num_rows(), 2u * (2u + 1u)) << "two experiments, top 2 and the best by P";
  for (const auto& e : fs::directory_iterator(dir.path()))
    EXPECT_NE(e.path().filename().string()[0], '.') << "left behind: " << e.path();
  for (const auto& e : fs::directory_iterator(dir / "mine"))
    EXPECT_NE(e.path().filename().string()[0], '.') << "left behind: " << e.path();
}

TEST(ReportCli, APreviousReportIsReplacedWhole) {
  TempDir dir;
  write_file(dir / "in.csv", pepr::test::synthetic_results({"synth", "synth_scratch"}, 5));
  const std::string in = (dir / "in.csv").string(), out = (dir / "report").string();
  auto r = run_pepr({"report", in, "-g", "dataset", "-o", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // A figure and a table of an older report (e.g. of a table with more resources).
  write_file(dir / "report/figures/stale.svg", "<svg/>");
  write_file(dir / "report/tables/stale.csv", "a\n1\n");
  r = run_pepr({"report", in, "-g", "dataset", "--top", "2", "-o", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(dir / "report/figures/stale.svg"));
  EXPECT_FALSE(fs::exists(dir / "report/tables/stale.csv"));
  EXPECT_TRUE(fs::exists(dir / "report/index.html"));
  auto top = pepr::Table::read_csv((dir / "report/tables/top_pepr_e.csv").string());
  EXPECT_EQ(top.num_rows(), 2u * (2u + 1u)) << "the new report, not the old one";
  for (const auto& e : fs::directory_iterator(dir.path()))
    EXPECT_NE(e.path().filename().string()[0], '.') << "left behind: " << e.path();
  // --force into a folder with the user's files: an older report's files do not survive either.
  write_file(dir / "report/notes.txt", "mine");
  r = run_pepr({"report", in, "-g", "dataset", "-o", out, "--force"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  write_file(dir / "report/figures/stale.svg", "<svg/>");
  r = run_pepr({"report", in, "-g", "dataset", "-o", out, "--force"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(dir / "report/figures/stale.svg"));
  EXPECT_EQ(read_file(dir / "report/notes.txt"), "mine");
}

TEST(ReportCli, AnUnusableOutputFolderIsRefusedBeforeReading) {
  TempDir dir;
  write_file(dir / "plain", "x");
  // The input does not exist: the output folder is checked first.
  auto r = run_pepr({"report", (dir / "missing.csv").string(), "-o",
                     (dir / "plain" / "sub" / "report").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("'" + (dir / "plain").string() + "' is not a folder"), std::string::npos)
      << r.err;
}

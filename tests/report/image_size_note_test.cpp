// The report says when the models of one experiment saw different image sizes (pepr collect's
// image_px: `image_size = auto` upsamples for models that need more than the data's size).
#include <gtest/gtest.h>

#include <string>

#include "core/table.hpp"
#include "report/report.hpp"

namespace {

// The report of `table` scored on accuracy ("acc") and `energy`, by dataset.
pepr::report::Report report_of(const pepr::Table& table, const std::string& energy = "energy") {
  pepr::report::ReportOptions o;
  o.score.performance = pepr::PerformanceSpec::parse("acc");
  o.score.resources.push_back(pepr::ResourceSpec::parse(energy, table));
  o.score.group_by = "dataset";
  return pepr::report::build_report(table, o);
}

std::vector<std::string> notes_of(const std::string& csv) {
  return report_of(pepr::Table::parse_csv(csv, "collected.csv")).notes;
}

std::string size_note(const std::vector<std::string>& notes) {
  for (const auto& n : notes)
    if (n.find("different image sizes") != std::string::npos) return n;
  return "";
}

TEST(ReportImageSizes, ExperimentsWhoseModelsSawDifferentSizesAreNoted) {
  const std::string notes =
      size_note(notes_of("model,dataset,acc,energy,image_px\n"
                         "resnet18,pneumonia,0.9,0.004,28\n"
                         "densenet121,pneumonia,0.8,0.009,29\n"
                         "crossvit_9_240,pneumonia,0.7,0.2,240\n"
                         "resnet18,derma,0.6,0.004,28\n"
                         "vgg11,derma,0.6,0.005,28\n"));
  EXPECT_EQ(notes,
            "pneumonia: the models saw different image sizes, 28 to 240 px (column image_px; "
            "image_size = auto gives a model that needs more than the data's size the smallest it "
            "accepts): their resources include the larger inputs");
  // One size per experiment, or no column: no note.
  EXPECT_EQ(size_note(notes_of("model,dataset,acc,energy,image_px\n"
                               "a,x,0.9,0.004,28\nb,x,0.8,0.009,28\n")),
            "");
  EXPECT_EQ(size_note(notes_of("model,dataset,acc,energy\na,x,0.9,0.004\nb,x,0.8,0.009\n")), "");
}

}  // namespace

TEST(ReportRobustness, TheFindingsSayWhetherTheMeasurementErrorCouldReorderTheTop) {
  // a and b 2 % apart in energy with equal accuracy; one method, its per-run error 5 %.
  const auto table = pepr::Table::parse_csv(
      "model,dataset,acc,energy,energy_method,energy_error_per_run\n"
      "a,x,0.80,1.00,rapl-powercap,0.05\n"
      "b,x,0.80,1.02,rapl-powercap,0.05\n"
      "c,x,0.50,3.00,rapl-powercap,0.05\n"
      "a,y,0.90,1.00,rapl-powercap,0.05\n"
      "b,y,0.60,3.00,rapl-powercap,0.05\n",
      "collected.csv");
  const auto rep = report_of(table);
  ASSERT_EQ(rep.robustness.size(), 2u);
  EXPECT_EQ(rep.robustness[0].rfind("x: the top-1 (a) is NOT robust", 0), 0u) << rep.robustness[0];
  EXPECT_EQ(rep.robustness[1].rfind("y: the top-1 (a) is robust", 0), 0u) << rep.robustness[1];
  const std::string& html = rep.files.back().second;
  const auto findings = html.find("<section id=\"findings\">"),
             noise = html.find("Within the measurement error");
  ASSERT_NE(noise, std::string::npos);
  EXPECT_GT(noise, findings);  // in the findings, where the answer is read
  // Without bounds (the paper's table), nothing is claimed either way.
  const auto plain =
      pepr::Table::parse_csv("model,dataset,acc,energy\na,x,0.8,1\nb,x,0.7,2\n", "paper.csv");
  EXPECT_TRUE(report_of(plain).robustness.empty());
}

// The report's top table shows each energy with its measured bounds and each PePR-E with its
// interval; a table without bounds (the paper's) has neither column.
TEST(ReportRobustness, TheTopTableShowsEnergyAndScoreIntervals) {
  const auto table = pepr::Table::parse_csv(
      "model,dataset,acc,energy_kwh,energy_kwh_lo,energy_kwh_hi,energy_method,"
      "energy_error_per_run\n"
      "a,x,0.80,0.0010,0.0005,0.0020,estimate,0.25\n"
      "b,x,0.70,0.0030,0.0015,0.0060,estimate,0.25\n"
      "c,x,0.60,0.0050,0.0025,0.0100,estimate,0.25\n",
      "collected.csv");
  const auto rep = report_of(table, "energy=energy_kwh");
  const pepr::report::ReportTable* top = nullptr;
  for (const auto& t : rep.tables)
    if (t.name == "top_pepr_e") top = &t;
  ASSERT_NE(top, nullptr);
  const auto& t = top->data;
  const auto lo = t.find_column("energy_wh_lo"), hi = t.find_column("energy_wh_hi");
  const auto slo = t.find_column("pepr_e_lo"), shi = t.find_column("pepr_e_hi"),
             score = t.find_column("pepr_e"), model = t.find_column("model");
  ASSERT_TRUE(lo && hi && slo && shi && score && model) << top->caption;
  ASSERT_EQ(t.cell(0, *model), "a");
  EXPECT_DOUBLE_EQ(t.number(0, *lo), 0.5);  // Wh, the record's kWh x 1000
  EXPECT_DOUBLE_EQ(t.number(0, *hi), 2.0);
  // The per-run error (one method): each energy within 1/1.25 to 1.25 of itself. a, the least,
  // keeps R = 0 whatever the error (its interval is P itself); b's R moves.
  EXPECT_DOUBLE_EQ(t.number(0, *slo), 0.8);
  EXPECT_DOUBLE_EQ(t.number(0, *shi), 0.8);
  ASSERT_EQ(t.cell(1, *model), "b");
  EXPECT_LT(t.number(1, *slo), t.number(1, *score));
  EXPECT_GT(t.number(1, *shi), t.number(1, *score));
  // The view puts each pair in one cell.
  const auto within = top->view.find_column("energy within (Wh)");
  ASSERT_TRUE(within);
  EXPECT_EQ(top->view.cell(0, *within), "0.5-2");
  EXPECT_TRUE(top->view.find_column("PePR-E within"));
  // The Pareto figure draws each point's R range as a whisker: only b's moves (a stays the
  // experiment's least energy, R = 0, and c its most, R = 1, whatever the error).
  auto svg_of = [](const pepr::report::Report& r, const std::string& path) {
    for (const auto& [name, text] : r.files)
      if (name == path) return text;
    return std::string();
  };
  auto count = [](const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  const std::string pareto = svg_of(rep, "figures/pareto.svg");
  ASSERT_FALSE(pareto.empty());
  EXPECT_EQ(count(pareto, "class=\"err\""), 1u) << pareto;
  // The paper's table has no bounds: no interval columns.
  const auto plain =
      pepr::Table::parse_csv("model,dataset,acc,energy\na,x,0.8,1\nb,x,0.7,2\n", "paper.csv");
  const auto plain_report = report_of(plain);
  EXPECT_EQ(count(svg_of(plain_report, "figures/pareto.svg"), "class=\"err\""), 0u);
  for (const auto& pt : plain_report.tables)
    if (pt.name == "top_pepr_e") {
      EXPECT_FALSE(pt.data.find_column("energy_wh_lo"));
      EXPECT_FALSE(pt.data.find_column("pepr_e_lo"));
    }
}

// With several seeds per model, the report's findings say whether the best mean stays best.
TEST(ReportRobustness, SeedsGiveMeansAndWhetherTheBestStaysBest) {
  const auto table = pepr::Table::parse_csv(
      "model,dataset,seed,acc,energy\n"
      "a,x,0,0.80,1.00\n"
      "a,x,1,0.81,1.00\n"
      "a,x,2,0.79,1.00\n"
      "b,x,0,0.50,3.00\n"
      "b,x,1,0.52,3.00\n"
      "b,x,2,0.51,3.00\n",
      "collected.csv");
  const auto rep = report_of(table);
  ASSERT_EQ(rep.seed_robustness.size(), 1u);
  EXPECT_EQ(
      rep.seed_robustness[0].rfind("x: over the seeds, a leads by mean PePR-E 0.8000 (n 3", 0), 0u)
      << rep.seed_robustness[0];
  EXPECT_NE(rep.seed_robustness[0].find("robust to seed noise"), std::string::npos);
  EXPECT_NE(rep.files.back().second.find("id=\"seed-robustness\""), std::string::npos);
}

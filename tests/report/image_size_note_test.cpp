// The report says when the models of one experiment saw different image sizes (pepr collect's
// image_px: `image_size = auto` upsamples for models that need more than the data's size).
#include <gtest/gtest.h>

#include <string>

#include "core/table.hpp"
#include "report/report.hpp"

namespace {

std::vector<std::string> notes_of(const std::string& csv) {
  const auto table = pepr::Table::parse_csv(csv, "collected.csv");
  pepr::report::ReportOptions o;
  o.score.performance = pepr::PerformanceSpec::parse("acc");
  o.score.resources.push_back(pepr::ResourceSpec::parse("energy", table));
  o.score.group_by = "dataset";
  return pepr::report::build_report(table, o).notes;
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

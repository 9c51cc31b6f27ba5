// image_size in plans (auto, 0, N) and its resolution per model before a sweep starts: the data's
// size where the model accepts it, its minimum or fixed size where not, and an explicit size a
// model refuses named with the fix, its runs kept from starting.
#include <gtest/gtest.h>

#include <map>

#include "core/error.hpp"
#include "sweep/image_sizes.hpp"
#include "sweep/plan.hpp"

namespace sw = pepr::sweep;
using pepr::run::ImageSize;
using pepr::run::InputSizeRule;

namespace {

std::string plan_with(const std::string& sweep_lines) {
  return "[sweep]\n" + sweep_lines +
         "\nregimes = [\"scratch\"]\ntrain_fractions = [1.0, 0.1]\n[models]\nnames = "
         "[\"resnet18\", "
         "\"densenet121\", \"crossvit_9_240\", \"my_net.pt\"]\n[[datasets]]\nname = \"pneumonia\"\n"
         "file = \"p.npz\"\n";
}

// The rules as zoo/input_sizes.hpp has them for these models (tests/models checks the table
// against the models themselves); my_net.pt is a TorchScript file: no rule.
std::optional<InputSizeRule> rule_of(const std::string& m) {
  static const std::map<std::string, InputSizeRule> rules = {{"resnet18", {1, std::nullopt}},
                                                             {"densenet121", {29, std::nullopt}},
                                                             {"crossvit_9_240", {1, 240}}};
  const auto it = rules.find(m);
  return it == rules.end() ? std::nullopt : std::optional(it->second);
}

std::vector<sw::RunSpec> resolved(const std::string& text) {
  auto runs = sw::expand_plan(sw::parse_plan(text, "plan.toml", "/plans"), "/runs", nullptr);
  sw::resolve_image_sizes(runs, {{"/plans/p.npz", {28, 28}}}, rule_of);
  return runs;
}

std::map<std::string, std::int64_t> size_by_model(const std::vector<sw::RunSpec>& runs) {
  std::map<std::string, std::int64_t> out;
  for (const auto& r : runs)
    if (r.image_size) out[r.config.model] = r.image_size->size;
  return out;
}

}  // namespace

TEST(SweepImageSize, AutoIsThePlansDefaultAndEachModelGetsASizeItAccepts) {
  for (const std::string& line :
       {std::string("epochs = 1"), std::string("image_size = \"auto\"")}) {
    const auto runs = resolved(plan_with(line));
    ASSERT_EQ(runs.size(), 8u);
    EXPECT_TRUE(runs[0].config.image_size.is_auto()) << line;
    EXPECT_EQ(size_by_model(runs),
              (std::map<std::string, std::int64_t>{
                  {"resnet18", 28}, {"densenet121", 29}, {"crossvit_9_240", 240}}));
    for (const auto& r : runs) {
      EXPECT_EQ(r.image_size.has_value(), r.config.model != "my_net.pt") << r.config.model;
      if (r.image_size) {
        EXPECT_TRUE(r.image_size->ok()) << r.image_size->problem;
      }
    }
    EXPECT_TRUE(sw::refused_runs(runs).empty());
    // The sweep's own record of a run before its trainer starts says the size it will see.
    EXPECT_EQ(*runs[2].config_record().image_size, 29);
    const auto notes = sw::image_size_notes(runs);
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_EQ(notes[0],
              "pneumonia: the models see different image sizes, 28 to 240 px (the data: 28 px); "
              "compute per image up to 73.5x the data's size");
  }
}

TEST(SweepImageSize, AnExplicitSizeRefusesTheModelsThatCannotRunAtItWithTheFix) {
  const auto runs = resolved(plan_with("image_size = 28"));
  const auto refused = sw::refused_runs(runs);
  ASSERT_EQ(refused.size(), 4u);  // densenet121 and crossvit_9_240, two fractions each
  for (const auto& r : refused)
    EXPECT_TRUE(r.config.model == "densenet121" || r.config.model == "crossvit_9_240");
  EXPECT_EQ(sw::runnable_runs(runs).size(), 4u);
  EXPECT_EQ(sw::refusal_lines(runs),
            (std::vector<std::string>{
                "refused, not started: densenet121 on pneumonia (2 runs): densenet121 needs inputs "
                "of at least 29x29 pixels; image_size 28 is smaller: use image_size = 29 or "
                "\"auto\" (per model)",
                "refused, not started: crossvit_9_240 on pneumonia (2 runs): crossvit_9_240 needs "
                "inputs of exactly 240x240 pixels; image_size 28 is another size: use image_size "
                "= 240 or \"auto\" (per model)"}));
  // 0 (as stored) refuses the same models.
  EXPECT_EQ(sw::refused_runs(resolved(plan_with("image_size = 0"))).size(), 4u);
  // The table before the sweep shows each model once with its size and compute.
  const pepr::Table t = sw::image_size_table(resolved(plan_with("epochs = 1")), rule_of);
  ASSERT_EQ(t.num_rows(), 4u);
  EXPECT_EQ(t.cell(2, t.require_column("model")), "crossvit_9_240");
  EXPECT_EQ(t.cell(2, t.require_column("image_px")), "240");
  EXPECT_EQ(t.cell(2, t.require_column("compute")), "73.47x");
  EXPECT_EQ(t.cell(2, t.require_column("note")), "auto: its fixed size");
  EXPECT_EQ(t.cell(1, t.require_column("note")), "auto: upsampled to its minimum");
  EXPECT_EQ(t.cell(0, t.require_column("compute")), "1.00x");
  EXPECT_EQ(t.cell(3, t.require_column("image_px")), "?");  // TorchScript: the trainer decides
}

TEST(SweepImageSize, AutoKeepsTheRunIdsOfTheFormerDefaultAndPlansRejectOtherWords) {
  // Plans that never named image_size had 0 (as stored) before auto: their run IDs stay.
  const auto autos = resolved(plan_with("epochs = 1"));
  const auto zero = resolved(plan_with("epochs = 1\nimage_size = 0"));
  ASSERT_EQ(autos.size(), zero.size());
  for (std::size_t i = 0; i < autos.size(); ++i) EXPECT_EQ(autos[i].id, zero[i].id);
  EXPECT_NE(resolved(plan_with("epochs = 1\nimage_size = 32"))[0].id, autos[0].id);
  for (const char* bad : {"image_size = \"big\"", "image_size = 1.5", "image_size = -3"}) {
    try {
      resolved(plan_with(bad));
      ADD_FAILURE() << bad;
    } catch (const pepr::ParseError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("plan.toml:2:", 0), 0u) << e.what();
    }
  }
}

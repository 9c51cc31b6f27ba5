// The embedded model space against the paper's own list (../shared/data).
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "support/test_support.hpp"
#include "zoo/model_space.hpp"

namespace {

using namespace pepr::zoo;

TEST(ModelSpace, HoldsThePapers131WithTheirClassification) {
  PEPR_REQUIRE_SHARED(names_csv, "pepr-paper/model_names.csv");
  std::ifstream in(names_csv);
  std::string line;
  std::getline(in, line);  // header: model,num_param,type,efficient,link
  std::set<std::string> seen;
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string name, params, type, eff;
    std::getline(ss, name, ',');
    std::getline(ss, params, ',');
    std::getline(ss, type, ',');
    std::getline(ss, eff, ',');
    if (!seen.insert(name).second) continue;
    const ModelEntry* e = find_model(name);
    ASSERT_NE(e, nullptr) << name;
    EXPECT_TRUE(e->in_paper) << name;
    EXPECT_EQ(e->params, std::stoll(params)) << name;
    EXPECT_EQ(e->type, type) << name;
    EXPECT_EQ(e->efficient, std::stoi(eff)) << name;
  }
  EXPECT_EQ(seen.size(), 131u);
  std::size_t in_paper = 0;
  for (const auto& e : model_space()) in_paper += e.in_paper;
  EXPECT_EQ(in_paper, 131u);
}

TEST(ModelSpace, TimmConfigurationAndLookups) {
  const ModelEntry* g = find_model("ghostnet_100");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->hf_hub_id, "timm/ghostnet_100.in1k");
  EXPECT_EQ(g->height, 224);
  EXPECT_DOUBLE_EQ(g->mean[0], 0.485);
  EXPECT_EQ(g->interpolation, "bicubic");
  // timm renamed gluon_xception65: both names find it.
  EXPECT_EQ(find_model("xception65"), find_model("gluon_xception65"));
  EXPECT_EQ(find_model("nope"), nullptr);
  EXPECT_EQ(weights_url(*g, "http://mirror/"),
            "http://mirror/timm/ghostnet_100.in1k/resolve/main/model.safetensors");
  // The paper's small/large split: the median of the 131 parameter counts (24.6 M).
  EXPECT_NEAR(paper_median_params(), 24.6e6, 0.1e6);
  // Every model has hub weights but the two legacy SENets (timm has only .pth files for them).
  for (const auto& e : model_space()) {
    EXPECT_EQ(e.hf_hub_id.empty(), e.name.rfind("legacy_", 0) == 0) << e.name;
    EXPECT_TRUE(e.type == "CNN" || e.type == "Other") << e.name;
  }
}

}  // namespace

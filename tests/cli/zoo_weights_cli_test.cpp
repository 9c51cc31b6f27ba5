// pepr zoo and pepr weights from the command line.
#include <cstdlib>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "core/table.hpp"
#include "support/http_server.hpp"
#include "support/test_support.hpp"
#include "weights/safetensors.hpp"

namespace {

TEST(ZooCli, ListShowsThePapers131WithNativeOnesMarked) {
  auto r = pepr::test::run_pepr({"zoo", "list", "--paper", "-f", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto t = pepr::Table::parse_csv(r.out, "zoo list");
  EXPECT_EQ(t.num_rows(), 131u);
  const auto native = t.require_column("native");
  std::size_t n_native = 0;
  for (std::size_t i = 0; i < t.num_rows(); ++i) n_native += t.cell(i, native) == "yes";
  auto nat = pepr::test::run_pepr({"zoo", "list", "--native", "--paper", "-f", "csv"});
  ASSERT_EQ(nat.exit_code, 0);
  EXPECT_EQ(pepr::Table::parse_csv(nat.out, "native").num_rows(), n_native);
  if (pepr::test::run_pepr({"train", "--help"}).exit_code == 0) {
    EXPECT_GE(n_native,
              7u);  // resnet18d, resnet26d, resnet34d, resnet14t, mobilenetv2_050, vgg11, vgg13
  }
  // Filters, and the text table's note.
  auto small = pepr::test::run_pepr({"zoo", "list", "--max-params", "2e6", "-f", "csv"});
  auto ts = pepr::Table::parse_csv(small.out, "small");
  EXPECT_EQ(ts.num_rows(), 4u);  // dla46x_c, dla46_c, mobilevitv2_050, mobilenetv2_050
  auto text = pepr::test::run_pepr({"zoo", "list"});
  EXPECT_NE(text.out.find("native to pepr"), std::string::npos);
  EXPECT_EQ(pepr::test::run_pepr({"zoo", "list", "--type", "Transformer"}).exit_code, 1);
}

// The input-size rule of each native model as columns of `zoo list` (from the table the sweep
// reads) and rows of `zoo info` (from the model itself): a minimum, a fixed size, or neither.
TEST(ZooCli, ListAndInfoShowTheMinimumAndFixedInputSize) {
  if (pepr::test::run_pepr({"train", "--help"}).exit_code != 0)
    GTEST_SKIP() << "built without LibTorch: no native models";
  auto r = pepr::test::run_pepr({"zoo", "list", "--native", "-f", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto t = pepr::Table::parse_csv(r.out, "zoo list");
  const auto model = t.require_column("model"), min = t.require_column("min_input_size"),
             fixed = t.require_column("fixed_input_size");
  std::map<std::string, std::pair<std::string, std::string>> rule;
  for (std::size_t i = 0; i < t.num_rows(); ++i)
    rule[std::string(t.cell(i, model))] = {std::string(t.cell(i, min)),
                                           std::string(t.cell(i, fixed))};
  EXPECT_EQ(rule["resnet18"], std::make_pair(std::string("1"), std::string()));
  EXPECT_EQ(rule["vgg11"], std::make_pair(std::string("32"), std::string()));
  EXPECT_EQ(rule["crossvit_9_240"].second, "240");
  EXPECT_EQ(rule["maxvit_nano_rw_256"].second, "256");
  auto info = pepr::test::run_pepr({"zoo", "info", "crossvit_9_240", "-f", "csv"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("fixed_input_size,240x240 (only this size"), std::string::npos)
      << info.out;
  info = pepr::test::run_pepr({"zoo", "info", "vgg11", "-f", "csv"});
  EXPECT_NE(info.out.find("min_input_size,32x32 (smaller data: --image-size auto upsamples to 32)"),
            std::string::npos)
      << info.out;
  EXPECT_NE(info.out.find("fixed_input_size,none"), std::string::npos) << info.out;
}

TEST(ZooCli, InfoSaysHowToUseAModelThatIsNotNative) {
  auto r = pepr::test::run_pepr({"zoo", "info", "ghostnet_100", "-f", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("timm/ghostnet_100.in1k"), std::string::npos);
  EXPECT_NE(r.out.find("5182508"), std::string::npos);
  // The stem and head names come from the native model: all of them where timm lists several.
  auto rep = pepr::test::run_pepr({"zoo", "info", "repvgg_a2", "-f", "csv"});
  ASSERT_EQ(rep.exit_code, 0) << rep.err;
  if (rep.out.find("native,yes") != std::string::npos) {
    EXPECT_NE(rep.out.find("stem.conv_kxk.conv, stem.conv_1x1.conv"), std::string::npos) << rep.out;
    EXPECT_NE(rep.out.find("classifier,head.fc "), std::string::npos) << rep.out;
  }
  auto n = pepr::test::run_pepr({"zoo", "info", "nasnetalarge"});
  ASSERT_EQ(n.exit_code, 0);
  if (n.out.find("not native") != std::string::npos) {
    EXPECT_NE(n.out.find("export_torchscript.py"), std::string::npos) << n.out;
  }
  auto bad = pepr::test::run_pepr({"zoo", "info", "no_such_net"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("not in pepr's model space"), std::string::npos);
}

TEST(WeightsCli, InfoPullAndErrors) {
  pepr::test::TempDir dir;
  const auto file = (dir / "w.safetensors").string();
  pepr::weights::write_safetensors(
      file,
      {{"fc.weight", pepr::weights::Dtype::F32, {2, 2}, std::string(16, '\0')},
       {"fc.bias", pepr::weights::Dtype::F16, {2}, std::string(4, '\0')}},
      {{"format", "pt"}});
  auto info = pepr::test::run_pepr({"weights", "info", file, "-f", "csv"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("tensors,2"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("F16 x1, F32 x1"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("metadata.format,pt"), std::string::npos) << info.out;
  auto list = pepr::test::run_pepr({"weights", "info", file, "--tensors", "-f", "csv"});
  EXPECT_NE(list.out.find("fc.weight,F32,2x2,4"), std::string::npos) << list.out;
  if (pepr::test::run_pepr({"train", "--help"}).exit_code == 0) {
    auto fit = pepr::test::run_pepr({"weights", "info", file, "-m", "resnet18", "-f", "csv"});
    EXPECT_NE(fit.out.find("no: 120 missing, 2 other shapes, 0 unexpected"), std::string::npos)
        << fit.out;
  }
  pepr::test::write_file(dir / "bad.safetensors", "garbage!");
  auto bad = pepr::test::run_pepr({"weights", "info", (dir / "bad.safetensors").string()});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("not a valid .safetensors file"), std::string::npos) << bad.err;

  // pull from a local hub: prints the cached path, then works offline.
  pepr::test::LocalHttpServer hub;
  const std::string body = pepr::test::read_file(file);
  hub.serve(
      "/timm/resnet18.a1_in1k/resolve/main/model.safetensors", body,
      {"X-Linked-Etag: \"" +
       std::string("0000000000000000000000000000000000000000000000000000000000000000") + "\""});
  ::setenv("PEPR_HOME", dir.path().c_str(), 1);
  ::setenv("PEPR_HF_BASE_URL", hub.base().c_str(), 1);
  auto mismatch = pepr::test::run_pepr({"weights", "pull", "resnet18", "-q"});
  EXPECT_EQ(mismatch.exit_code, 1);
  EXPECT_NE(mismatch.err.find("SHA-256 mismatch"), std::string::npos) << mismatch.err;
  auto none = pepr::test::run_pepr({"weights", "pull", "legacy_seresnet50"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("no .safetensors weights on the hub"), std::string::npos);
  ::unsetenv("PEPR_HOME");
  ::unsetenv("PEPR_HF_BASE_URL");
}

}  // namespace

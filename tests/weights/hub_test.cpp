// pepr's weights pull path against a local HTTP server laid out as the Hugging Face hub:
// /<hf_hub_id>/resolve/main/model.safetensors answers 302 with X-Linked-Etag (the SHA-256) and
// the file comes from another path.
#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "data/digest.hpp"
#include "support/http_server.hpp"
#include "support/test_support.hpp"
#include "weights/hub.hpp"
#include "weights/safetensors.hpp"
#include "zoo/model_space.hpp"

namespace {

namespace fs = std::filesystem;
using namespace pepr::weights;
using pepr::test::LocalHttpServer;

struct Env {
  pepr::test::TempDir home;
  LocalHttpServer hub;
  Env() {
    ::setenv("PEPR_HOME", home.path().c_str(), 1);
    ::setenv(kHubBaseEnv, hub.base().c_str(), 1);
  }
  ~Env() {
    ::unsetenv("PEPR_HOME");
    ::unsetenv(kHubBaseEnv);
  }
};

// A valid safetensors file of `n` floats.
std::string weights_file(const pepr::test::TempDir& dir, int n) {
  std::string bytes(static_cast<std::size_t>(n) * 4, '\x3f');
  const auto p = (dir / "src.safetensors").string();
  write_safetensors(p, {{"fc.weight", Dtype::F32, {n}, bytes}});
  return pepr::test::read_file(p);
}

const pepr::zoo::ModelEntry& resnet18() {
  return *pepr::zoo::find_model("resnet18");
}

std::string resolve_path() {
  return "/" + std::string(resnet18().hf_hub_id) + "/resolve/main/model.safetensors";
}

std::string sha_header(const std::string& body) {
  return "X-Linked-Etag: \"" + pepr::data::digest_hex(body, pepr::data::DigestAlgo::sha256) + "\"";
}

TEST(Hub, UrlAndCachePathFollowTheHubLayout) {
  ::unsetenv(kHubBaseEnv);
  EXPECT_EQ(hub_weights_url(resnet18()),
            "https://huggingface.co/timm/resnet18.a1_in1k/resolve/main/model.safetensors");
  ::setenv("PEPR_HOME", "/tmp/pepr-x", 1);
  EXPECT_EQ(weights_cache_path(resnet18()),
            "/tmp/pepr-x/weights/timm/resnet18.a1_in1k/model.safetensors");
  ::unsetenv("PEPR_HOME");
}

TEST(Hub, PullVerifiesTheHubsSha256ThenWorksOffline) {
  Env env;
  const std::string body = weights_file(env.home, 1000);
  env.hub.redirect(resolve_path(), "/cdn/blob1", {sha_header(body)});
  env.hub.serve("/cdn/blob1", body);
  PullWeightsResult r = pull_weights("resnet18");
  EXPECT_TRUE(r.verified);
  EXPECT_FALSE(r.from_cache);
  EXPECT_EQ(r.tensors, 1u);
  EXPECT_EQ(r.path, weights_cache_path(resnet18()));
  EXPECT_EQ(pepr::test::read_file(r.path), body);
  const auto requests = env.hub.paths().size();
  PullWeightsResult again = pull_weights("resnet18");
  EXPECT_TRUE(again.from_cache);
  EXPECT_EQ(env.hub.paths().size(), requests);  // no network
  EXPECT_EQ(cached_weights("resnet18"), r.path);
}

TEST(Hub, Sha256MismatchDiscardsTheDownload) {
  Env env;
  const std::string body = weights_file(env.home, 100);
  env.hub.redirect(resolve_path(), "/cdn/b", {sha_header(body + "x")});
  env.hub.serve("/cdn/b", body);
  try {
    pull_weights("resnet18");
    FAIL() << "no error";
  } catch (const pepr::Error& e) {
    EXPECT_NE(std::string(e.what()).find("SHA-256 mismatch"), std::string::npos) << e.what();
  }
  const fs::path dir = fs::path(weights_cache_path(resnet18())).parent_path();
  EXPECT_TRUE(!fs::exists(dir) || fs::is_empty(dir));
}

TEST(Hub, NotFoundNoDigestAndNotSafetensorsAreRefused) {
  Env env;
  auto message = [] {
    try {
      pull_weights("resnet18");
    } catch (const pepr::Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(message().find("HTTP 404"), std::string::npos);
  const std::string body = weights_file(env.home, 10);
  env.hub.serve(resolve_path(), body);  // no X-Linked-Etag
  EXPECT_NE(message().find("sent no SHA-256"), std::string::npos) << message();
  const std::string junk = "this is not a safetensors file at all";
  env.hub.serve(resolve_path(), junk, {sha_header(junk)});
  EXPECT_NE(message().find("not a valid .safetensors file"), std::string::npos) << message();
  EXPECT_FALSE(cached_weights("resnet18"));
  try {
    pull_weights("no_such_net");
    FAIL();
  } catch (const pepr::Error& e) {
    EXPECT_NE(std::string(e.what()).find("TorchScript"), std::string::npos);
  }
}

TEST(Hub, InterruptedTransferIsResumedByTheNextPull) {
  Env env;
  const std::string body = weights_file(env.home, 50000);
  env.hub.redirect(resolve_path(), "/cdn/big", {sha_header(body)});
  env.hub.serve("/cdn/big", body);
  env.hub.cut_after(70000, 1);
  PullWeightsOptions o;
  o.retries = 0;
  EXPECT_THROW(pull_weights("resnet18", o), pepr::Error);
  EXPECT_FALSE(cached_weights("resnet18"));
  PullWeightsResult r = pull_weights("resnet18", o);
  EXPECT_TRUE(r.verified);
  EXPECT_EQ(pepr::test::read_file(r.path), body);
  bool resumed = false;
  for (const auto& range : env.hub.ranges()) resumed |= range == "bytes=70000-";
  EXPECT_TRUE(resumed);
}

}  // namespace

// The downloader and `pepr data pull` against a local HTTP server on 127.0.0.1.

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "core/error.hpp"
#include "data/catalogue.hpp"
#include "data/digest.hpp"
#include "data/download.hpp"
#include "support/http_server.hpp"
#include "support/test_support.hpp"

using namespace pepr::data;
using pepr::test::LocalHttpServer;
namespace fs = std::filesystem;

namespace {

std::string payload(std::size_t n) {
  std::string s(n, '\0');
  uint32_t x = 12345;
  for (char& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

DownloadOptions opts(const LocalHttpServer& srv, const std::string& path, const std::string& dest,
                     const std::string& body) {
  DownloadOptions o;
  o.url = srv.base() + path + "?download=1";
  o.dest = dest;
  o.expected = ExpectedDigest{DigestAlgo::md5, digest_hex(body, DigestAlgo::md5)};
  o.retries = 0;
  o.retry_delay_ms = 10;
  return o;
}

std::string what(const std::function<void()>& f) {
  try {
    f();
  } catch (const pepr::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(Digest, KnownVectors) {
  EXPECT_EQ(digest_hex("abc", DigestAlgo::md5), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(digest_hex("abc", DigestAlgo::sha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(digest_hex("", DigestAlgo::md5), "d41d8cd98f00b204e9800998ecf8427e");
}

TEST(Download, CompleteFileVerifiedAndRenamed) {
  LocalHttpServer srv;
  std::string body = payload(300000);
  srv.serve("/f.bin", body);
  pepr::test::TempDir d;
  std::string dest = (d / "sub/f.bin").string();
  std::uint64_t last_done = 0, last_total = 0;
  DownloadOptions o = opts(srv, "/f.bin", dest, body);
  o.progress = [&](std::uint64_t done, std::uint64_t total) {
    EXPECT_GE(done, last_done);
    last_done = done;
    last_total = total;
  };
  DownloadResult r = download_file(o);
  EXPECT_TRUE(r.verified);
  EXPECT_EQ(r.bytes, body.size());
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(r.resumes, 0);
  EXPECT_EQ(r.resumed_from, 0u);
  EXPECT_EQ(pepr::test::read_file(dest), body);
  EXPECT_FALSE(fs::exists(dest + ".part"));
  EXPECT_EQ(last_done, body.size());
  EXPECT_EQ(last_total, body.size());
  EXPECT_EQ(srv.ranges(), std::vector<std::string>{""});
}

TEST(Download, Sha256Works) {
  LocalHttpServer srv;
  std::string body = payload(1000);
  srv.serve("/w.safetensors", body);
  pepr::test::TempDir d;
  DownloadOptions o = opts(srv, "/w.safetensors", (d / "w").string(), body);
  o.expected = ExpectedDigest{DigestAlgo::sha256, digest_hex(body, DigestAlgo::sha256)};
  DownloadResult r = download_file(o);
  EXPECT_TRUE(r.verified);
  EXPECT_EQ(r.algo, DigestAlgo::sha256);
  EXPECT_EQ(r.digest_hex.size(), 64u);
}

TEST(Download, DigestMismatchDiscardsTheFile) {
  LocalHttpServer srv;
  std::string body = payload(5000);
  srv.serve("/f.bin", body);
  pepr::test::TempDir d;
  std::string dest = (d / "f.bin").string();
  DownloadOptions o = opts(srv, "/f.bin", dest, body);
  o.expected->hex = std::string(32, '0');
  std::string e = what([&] { download_file(o); });
  EXPECT_NE(e.find("MD5 mismatch: expected 00000000000000000000000000000000, got " +
                   digest_hex(body, DigestAlgo::md5)),
            std::string::npos)
      << e;
  EXPECT_NE(e.find(srv.base() + "/f.bin"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(dest));
  EXPECT_FALSE(fs::exists(dest + ".part"));
}

TEST(Download, NotFoundIsAClearErrorAndLeavesNothing) {
  LocalHttpServer srv;
  pepr::test::TempDir d;
  std::string dest = (d / "f.bin").string();
  std::string e = what([&] { download_file(opts(srv, "/missing.npz", dest, "x")); });
  EXPECT_NE(e.find("/missing.npz?download=1: HTTP 404 (not found)"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(dest));
  EXPECT_FALSE(fs::exists(dest + ".part"));
}

TEST(Download, ARefusedConnectionSaysCannotConnectAndLeavesNoPart) {
  pepr::test::TempDir d;
  const std::string dest = (d / "f.bin").string();
  DownloadOptions o;
  {
    LocalHttpServer srv;  // a port that was just free, now closed: the connection is refused
    o = opts(srv, "/f.npz", dest, "x");
  }
  o.retries = 1;
  const std::string e = what([&] { download_file(o); });
  EXPECT_NE(e.find(": cannot connect ("), std::string::npos) << e;
  EXPECT_EQ(e.find("bytes are kept"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(dest));
  EXPECT_FALSE(fs::exists(dest + ".part"));
}

TEST(Download, InterruptedTransferIsResumedByTheNextCall) {
  LocalHttpServer srv;
  std::string body = payload(200000);
  srv.serve("/f.bin", body);
  srv.cut_after(70000, 1);
  pepr::test::TempDir d;
  std::string dest = (d / "f.bin").string();
  DownloadOptions o = opts(srv, "/f.bin", dest, body);
  std::string e = what([&] { download_file(o); });
  EXPECT_NE(e.find("transfer interrupted"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(dest));
  ASSERT_TRUE(fs::exists(dest + ".part"));
  EXPECT_EQ(fs::file_size(dest + ".part"), 70000u);
  DownloadResult r = download_file(o);  // the server now sends everything
  EXPECT_EQ(r.resumed_from, 70000u);
  EXPECT_EQ(r.resumes, 1);
  EXPECT_TRUE(r.verified);
  EXPECT_EQ(pepr::test::read_file(dest), body);
  EXPECT_EQ(srv.ranges(), (std::vector<std::string>{"", "bytes=70000-"}));
  EXPECT_FALSE(fs::exists(dest + ".part"));
}

TEST(Download, RetriesResumeAutomatically) {
  LocalHttpServer srv;
  std::string body = payload(150000);
  srv.serve("/f.bin", body);
  srv.cut_after(40000, 2);  // two interruptions: 40000, then 40000 more
  pepr::test::TempDir d;
  std::string dest = (d / "f.bin").string();
  DownloadOptions o = opts(srv, "/f.bin", dest, body);
  o.retries = 3;
  DownloadResult r = download_file(o);
  EXPECT_EQ(r.attempts, 3);
  EXPECT_EQ(r.resumes, 2);
  EXPECT_EQ(pepr::test::read_file(dest), body);
  EXPECT_EQ(srv.ranges(), (std::vector<std::string>{"", "bytes=40000-", "bytes=80000-"}));
}

TEST(Download, ServerIgnoringRangeRestartsCleanly) {
  LocalHttpServer srv;
  std::string body = payload(100000);
  srv.serve("/f.bin", body);
  srv.ignore_range(true);
  pepr::test::TempDir d;
  std::string dest = (d / "f.bin").string();
  pepr::test::write_file(dest + ".part", body.substr(0, 1234));
  DownloadResult r = download_file(opts(srv, "/f.bin", dest, body));
  EXPECT_EQ(srv.ranges(), std::vector<std::string>{"bytes=1234-"});
  EXPECT_EQ(pepr::test::read_file(dest), body);  // not 1234 bytes + the whole file
  EXPECT_EQ(r.resumes, 0);
}

TEST(Download, CompletePartFileIsVerifiedAfter416) {
  LocalHttpServer srv;
  std::string body = payload(5000);
  srv.serve("/f.bin", body);
  pepr::test::TempDir d;
  std::string dest = (d / "f.bin").string();
  pepr::test::write_file(dest + ".part", body);
  DownloadResult r = download_file(opts(srv, "/f.bin", dest, body));
  EXPECT_TRUE(r.verified);
  EXPECT_EQ(pepr::test::read_file(dest), body);
  // A stale, wrong .part of full length is discarded and downloaded afresh.
  pepr::test::write_file(dest + ".part", std::string(5000, 'x'));
  fs::remove(dest);
  DownloadResult r2 = download_file(opts(srv, "/f.bin", dest, body));
  EXPECT_EQ(pepr::test::read_file(dest), body);
}

TEST(Download, BaseUrlOverride) {
  ::setenv("PEPR_TEST_BASE", "http://127.0.0.1:8080/m/", 1);
  EXPECT_EQ(apply_base_override("https://host/files/a.npz?download=1", "https://host/files",
                                "PEPR_TEST_BASE"),
            "http://127.0.0.1:8080/m/a.npz?download=1");
  EXPECT_EQ(apply_base_override("https://other/a.npz", "https://host/files", "PEPR_TEST_BASE"),
            "https://other/a.npz");
  ::unsetenv("PEPR_TEST_BASE");
  EXPECT_EQ(apply_base_override("https://host/files/a", "https://host/files", "PEPR_TEST_BASE"),
            "https://host/files/a");
}

// `pepr data pull` end to end: the real PneumoniaMNIST file served locally, MD5 checked against
// the catalogue, then offline use from the cache.
TEST(PullCli, DownloadsVerifiesThenWorksOffline) {
  PEPR_REQUIRE_SHARED(real, "medmnist/pneumoniamnist.npz");
  pepr::test::TempDir home;
  ::setenv("PEPR_HOME", home.path().c_str(), 1);
  std::string cached = (home / "data/pneumoniamnist.npz").string();
  {
    LocalHttpServer srv;
    std::string body = pepr::test::read_file(real);
    srv.serve("/pneumoniamnist.npz", body);
    srv.cut_after(1000000, 1);  // interrupted once, resumed by the automatic retry
    ::setenv("PEPR_MEDMNIST_BASE_URL", srv.base().c_str(), 1);
    auto r = pepr::test::run_pepr({"data", "pull", "pneumoniamnist"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, cached + "\n");
    EXPECT_NE(r.err.find("MD5 28209eda62fecd6e6a2d98b1501bb15f verified"), std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("(resumed 1 time)"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("pneumoniamnist.npz: 4.0 MiB / 4.0 MiB (100%)"), std::string::npos)
        << r.err;  // progress
    EXPECT_EQ(srv.ranges(), (std::vector<std::string>{"", "bytes=1000000-"}));
    EXPECT_EQ(digest_file(cached, DigestAlgo::md5), "28209eda62fecd6e6a2d98b1501bb15f");
  }
  // The server is gone: the cache answers.
  ::setenv("PEPR_MEDMNIST_BASE_URL", "http://127.0.0.1:1", 1);
  auto again = pepr::test::run_pepr({"data", "pull", "pneumoniamnist", "--verify"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("in the cache, MD5 verified"), std::string::npos) << again.err;
  auto info = pepr::test::run_pepr({"data", "info", "pneumoniamnist"});
  EXPECT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("train    4708  4708x28x28"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("0:1214 1:3494"), std::string::npos) << info.out;
  ::unsetenv("PEPR_MEDMNIST_BASE_URL");
  ::unsetenv("PEPR_HOME");
}

TEST(PullCli, MismatchAtEveryResolutionAndNotFound) {
  pepr::test::TempDir home;
  ::setenv("PEPR_HOME", home.path().c_str(), 1);
  LocalHttpServer srv;
  ::setenv("PEPR_MEDMNIST_BASE_URL", srv.base().c_str(), 1);
  srv.serve("/pneumoniamnist.npz", payload(4000));  // not the published file
  auto bad = pepr::test::run_pepr({"data", "pull", "pneumoniamnist", "-q"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("pepr: error: " + srv.base() +
                         "/pneumoniamnist.npz?download=1: MD5 mismatch: expected "
                         "28209eda62fecd6e6a2d98b1501bb15f"),
            std::string::npos)
      << bad.err;
  EXPECT_FALSE(fs::exists(home / "data/pneumoniamnist.npz"));
  EXPECT_FALSE(fs::exists(home / "data/pneumoniamnist.npz.part"));

  auto missing = pepr::test::run_pepr({"data", "pull", "pneumoniamnist", "--size", "64"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("/pneumoniamnist_64.npz?download=1: HTTP 404"), std::string::npos)
      << missing.err;

  // Every resolution is checked against its published MD5, not only 28 px.
  srv.serve("/breastmnist_128.npz", payload(3000));
  auto big = pepr::test::run_pepr({"data", "pull", "breastmnist", "--size", "128", "-q"});
  EXPECT_EQ(big.exit_code, 1);
  EXPECT_NE(big.err.find("MD5 mismatch: expected 363e4b3f8d712e9b5de15470a2aaadf1"),
            std::string::npos)
      << big.err;
  EXPECT_FALSE(fs::exists(home / "data/breastmnist_128.npz"));

  auto usage = pepr::test::run_pepr({"data", "pull", "nosuchmnist"});
  EXPECT_EQ(usage.exit_code, 1);
  EXPECT_NE(usage.err.find("unknown dataset 'nosuchmnist'"), std::string::npos) << usage.err;
  EXPECT_EQ(usage.err.find("did you mean"), std::string::npos) << usage.err;  // nothing close
  // A typo, or another spelling: the catalogue name meant.
  for (const char* typo : {"pneumoniamnst", "PneumoniaMNIST_64"}) {
    auto t = pepr::test::run_pepr({"data", "pull", typo});
    EXPECT_EQ(t.exit_code, 1);
    EXPECT_NE(
        t.err.find("unknown dataset '" + std::string(typo) + "': did you mean pneumoniamnist?"),
        std::string::npos)
        << t.err;
  }
  ::unsetenv("PEPR_MEDMNIST_BASE_URL");
  ::unsetenv("PEPR_HOME");
}

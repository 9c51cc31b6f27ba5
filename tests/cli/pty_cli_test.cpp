// Long-running commands as a person runs them: inside a pseudo-terminal, where pepr draws its
// progress in place. Tests that only ever ran with stderr redirected hid a crash of `pepr train`
// on every terminal (the bar's width went negative before the epoch knew its step count).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/http_server.hpp"
#include "support/test_support.hpp"

namespace {

namespace fs = std::filesystem;
using pepr::test::PtyOptions;
using pepr::test::run_pepr;
using pepr::test::run_pepr_in_pty;
using pepr::test::TempDir;

// The segments a terminal shows on one line: text between '\r' and '\n'.
std::vector<std::string> segments(const std::string& out) {
  std::vector<std::string> v;
  std::string cur;
  for (char c : out) {
    if (c == '\r' || c == '\n') {
      if (!cur.empty()) v.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) v.push_back(cur);
  return v;
}

// A small seeded dataset, made once per test.
std::string synth(const TempDir& dir) {
  const std::string data = (dir / "synth.npz").string();
  auto r = run_pepr({"data", "synth", "-o", data, "--train", "160", "--val", "32", "--test", "32"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return data;
}

std::vector<std::string> train_args(const std::string& data, const std::string& record) {
  return {"train", "-m", "mobilenetv2_050", "-d", data, "-e", "2", "--threads", "1", "-o", record};
}

void expect_record(const fs::path& record) {
  ASSERT_TRUE(fs::exists(record)) << record;
  auto rec = nlohmann::json::parse(pepr::test::read_file(record));
  EXPECT_EQ(rec["status"], "completed");
  EXPECT_EQ(rec["epochs"].size(), 2u);
}

TEST(PtyTrain, DrawsABarOnATerminalAndWritesTheRecord) {
  PEPR_REQUIRE_TRAIN();
  TempDir dir;
  const std::string data = synth(dir);
  PtyOptions o;
  o.columns = 100;
  o.env = {{"TERM", "xterm"}, {"COLUMNS", std::nullopt}};
  auto r = run_pepr_in_pty(train_args(data, (dir / "run.json").string()), o);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_record(dir / "run.json");
  // The bar was drawn in place, and never wider than the terminal.
  EXPECT_NE(r.out.find("\r  epoch 1/2 ["), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("#"), std::string::npos) << r.out;
  for (const auto& s : segments(r.out))
    if (s.find("epoch") != std::string::npos && s.find('[') != std::string::npos) {
      EXPECT_LT(s.size(), 100u) << s;
    }
  EXPECT_NE(r.out.find("test accuracy"), std::string::npos) << r.out;
}

// Narrow terminals, however narrow: the line is cut to fit, the run goes on.
TEST(PtyTrain, NarrowTerminalsAndColumnsVariable) {
  PEPR_REQUIRE_TRAIN();
  TempDir dir;
  const std::string data = synth(dir);
  for (int cols : {20, 1}) {
    PtyOptions o;
    o.columns = cols;
    o.env = {{"TERM", "xterm"}, {"COLUMNS", std::to_string(cols)}};
    const fs::path record = dir / ("run" + std::to_string(cols) + ".json");
    auto r = run_pepr_in_pty(train_args(data, record.string()), o);
    ASSERT_EQ(r.exit_code, 0) << "columns " << cols << ":\n" << r.out;
    expect_record(record);
    for (const auto& s : segments(r.out))
      if (s.find("epoch 1/2") == 2 && s.find("loss") == std::string::npos) {
        EXPECT_LE(s.size(), static_cast<std::size_t>(std::max(cols - 1, 1))) << s;
      }
  }
}

// TERM=dumb: no redrawing at all, one line per epoch.
TEST(PtyTrain, DumbTerminalGetsLinesNotRedraws) {
  PEPR_REQUIRE_TRAIN();
  TempDir dir;
  const std::string data = synth(dir);
  PtyOptions o;
  o.env = {{"TERM", "dumb"}};
  auto r = run_pepr_in_pty(train_args(data, (dir / "run.json").string()), o);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  expect_record(dir / "run.json");
  // A pty turns "\n" into "\r\n"; no other '\r' may appear.
  std::string no_crlf = r.out;
  for (std::size_t p; (p = no_crlf.find("\r\n")) != std::string::npos;) no_crlf.erase(p, 1);
  EXPECT_EQ(no_crlf.find('\r'), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("epoch 2/2  loss"), std::string::npos) << r.out;
}

// What the set-up means for the run (here oneDNN turned off) is said before the first epoch, not
// after the whole run.
TEST(PtyTrain, SetUpNotesComeBeforeTheFirstEpoch) {
  PEPR_REQUIRE_TRAIN();
  TempDir dir;
  const std::string data = synth(dir);
  PtyOptions o;
  o.env = {{"TERM", "dumb"}, {"PEPR_ONEDNN", "off"}};
  auto r = run_pepr_in_pty(train_args(data, (dir / "run.json").string()), o);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  expect_record(dir / "run.json");
  const auto note = r.out.find("note: oneDNN off: PEPR_ONEDNN=off");
  ASSERT_NE(note, std::string::npos) << r.out;
  const auto first_epoch = r.out.find("epoch 1/2");
  ASSERT_NE(first_epoch, std::string::npos) << r.out;
  EXPECT_LT(note, first_epoch) << r.out;
  EXPECT_EQ(r.out.find("note: oneDNN off", note + 1), std::string::npos) << "said twice:\n"
                                                                         << r.out;
}

// A terminal resized while training (wide to narrow): the bar follows the new width.
TEST(PtyTrain, ResizedTerminal) {
  PEPR_REQUIRE_TRAIN();
  TempDir dir;
  const std::string data = synth(dir);
  PtyOptions o;
  o.columns = 160;
  o.env = {{"TERM", "xterm"}, {"COLUMNS", std::nullopt}};
  o.resize_after_s = 0.0;  // at once: before or during the first epoch
  o.resize_to = 30;
  auto r = run_pepr_in_pty(train_args(data, (dir / "run.json").string()), o);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  expect_record(dir / "run.json");
  const auto segs = segments(r.out);
  bool narrow = false;
  for (const auto& s : segs)
    if (s.rfind("  epoch 2/2 ", 0) == 0 && s.find("loss") == std::string::npos) {
      EXPECT_LE(s.size(), 29u) << s;  // epoch 2 runs after the resize
      narrow = true;
    }
  EXPECT_TRUE(narrow) << r.out;
}

// `pepr track -- pepr train` on a terminal: the same crash reached it.
TEST(PtyTrack, TracksTrainingOnATerminal) {
  PEPR_REQUIRE_TRAIN();
  TempDir dir;
  const std::string data = synth(dir);
  std::vector<std::string> args{"track", "-o", (dir / "track.json").string(), "--",
                                pepr::test::pepr_binary()};
  for (const auto& a : train_args(data, (dir / "run.json").string())) args.push_back(a);
  PtyOptions o;
  o.env = {{"TERM", "xterm"}};
  auto r = run_pepr_in_pty(args, o);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  expect_record(dir / "run.json");
  EXPECT_TRUE(fs::exists(dir / "track.json"));
}

TEST(PtyBench, SweepOnATerminal) {
  PEPR_REQUIRE_TRAIN();
  TempDir dir;
  pepr::test::write_file(dir / "plan.toml", R"([sweep]
name = "pty"
epochs = 1
threads = 1
train_fractions = [1.0]
regimes = ["scratch"]
[models]
names = ["mobilenetv2_050"]
[[datasets]]
name = "synth"
synth = true
synth_args = ["--train", "96", "--val", "32", "--test", "32"]
)");
  PtyOptions o;
  o.env = {{"TERM", "xterm"}};
  auto r =
      run_pepr_in_pty({"bench", (dir / "plan.toml").string(), "-o", (dir / "runs").string()}, o);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  int records = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir / "runs"))
    if (e.path().extension() == ".json" && e.path().filename() != "plan.json" &&
        e.path().string().find("runs/runs") == std::string::npos) {
      auto j = nlohmann::json::parse(pepr::test::read_file(e.path()), nullptr, false);
      if (!j.is_discarded() && j.contains("status") && j["status"] == "completed") ++records;
    }
  EXPECT_GE(records, 1) << r.out;
  // The live line is redrawn within the terminal, without escape sequences.
  EXPECT_EQ(r.out.find('\033'), std::string::npos) << r.out;
  for (const auto& s : segments(r.out))
    if (s.find("ETA") != std::string::npos) {
      EXPECT_LT(s.size(), 80u) << s;
    }
}

// `pepr data pull` on a terminal against a local server (the real file, its MD5 checked).
TEST(PtyDataPull, DownloadOnATerminal) {
  PEPR_REQUIRE_SHARED(real, "medmnist/pneumoniamnist.npz");
  TempDir home;
  pepr::test::LocalHttpServer srv;
  srv.serve("/pneumoniamnist.npz", pepr::test::read_file(real));
  for (int cols : {80, 12}) {
    const fs::path cache = home / ("c" + std::to_string(cols));
    PtyOptions o;
    o.columns = cols;
    o.env = {
        {"TERM", "xterm"}, {"PEPR_HOME", cache.string()}, {"PEPR_MEDMNIST_BASE_URL", srv.base()}};
    auto r = run_pepr_in_pty({"data", "pull", "pneumoniamnist"}, o);
    ASSERT_EQ(r.exit_code, 0) << r.out;
    EXPECT_TRUE(fs::exists(cache / "data/pneumoniamnist.npz")) << r.out;
    // The progress line (cut to the width on the narrow terminal) never wraps.
    const std::string head = "pneumoniamnist.npz: ";
    int drawn = 0;
    for (const auto& s : segments(r.out)) {
      const bool progress = s.rfind(head, 0) == 0 ? s.find('%') != std::string::npos
                                                  : head.rfind(s, 0) == 0 && s.size() >= 8;
      if (!progress) continue;
      ++drawn;
      EXPECT_LT(s.size(), static_cast<std::size_t>(cols)) << s;
    }
    EXPECT_GT(drawn, 0) << r.out;
  }
}

}  // namespace

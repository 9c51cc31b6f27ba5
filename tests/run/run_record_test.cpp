// The typed run record (src/run/record): randomised records survive record -> JSON -> record
// unchanged; records written by earlier versions (tests/run/records/, written by pepr train and
// pepr bench before the record was typed) read and write back byte for byte; members of the
// wrong type or unknown to this version are kept; what is not a record is refused with why.
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "run/config.hpp"
#include "run/record.hpp"
#include "support/test_support.hpp"

namespace {

namespace fs = std::filesystem;
using pepr::run::Field;
using pepr::run::Json;
using pepr::run::RunRecord;

// Draws each member: absent, null or a value of its type.
struct Randomiser {
  std::mt19937_64& rng;
  int pick(int n) { return static_cast<int>(rng() % static_cast<std::uint64_t>(n)); }

  template <typename T>
  void operator()(const char*, Field<T>& f) {
    switch (pick(3)) {
      case 0:
        f = Field<T>();
        return;
      case 1:
        f = nullptr;
        return;
      default:
        break;
    }
    if constexpr (std::is_same_v<T, double>) {
      if (pick(4) == 0) {  // a number written as an integer
        f = static_cast<double>(static_cast<std::int64_t>(rng() % 100000) - 50000);
        f.set_other_number_kind(true);
      } else {
        f = std::uniform_real_distribution<double>(-1e9, 1e9)(rng) * (pick(2) ? 1e-12 : 1.0);
      }
    } else if constexpr (std::is_same_v<T, std::int64_t>) {
      f = static_cast<std::int64_t>(rng() >> 1) * (pick(2) ? 1 : -1);
      if (pick(4) == 0) {  // an integer written as a float (3.0)
        f = static_cast<std::int64_t>(rng() % 1000000) - 500000;
        f.set_other_number_kind(true);
      }
    } else if constexpr (std::is_same_v<T, std::uint64_t>) {
      f = rng();
    } else if constexpr (std::is_same_v<T, bool>) {
      f = pick(2) == 1;
    } else if constexpr (std::is_same_v<T, std::string>) {
      static const std::vector<std::string> words = {"resnet18", "", "a \"quoted\" word",
                                                     "ü/ñ 漢字", "line\nbreak"};
      f = words[static_cast<std::size_t>(pick(static_cast<int>(words.size())))];
    } else {
      f = Json{{"k", pick(100)}, {"list", {1, "two", nullptr}}};
    }
  }

  template <typename S>
  S section() {
    S s;
    s.fields(*this);
    if (pick(3) == 0) s.extra["from_a_later_version"] = {{"x", pick(10)}};
    return s;
  }
  template <typename S>
  std::optional<S> maybe_section() {
    if (pick(4) == 0) return std::nullopt;
    return section<S>();
  }
};

RunRecord random_record(std::mt19937_64& rng) {
  Randomiser r{rng};
  RunRecord rec;
  rec.status =
      pepr::run::Names<pepr::run::RunStatus>::table[static_cast<std::size_t>(r.pick(7))].first;
  r("run_id", rec.run_id), r("error", rec.error), r("stop_reason", rec.stop_reason);
  r("weights", rec.weights), r("environment", rec.environment), r("meter", rec.meter);
  rec.config = r.maybe_section<pepr::run::ConfigRecord>();
  rec.model = r.maybe_section<pepr::run::ModelRecord>();
  rec.data = r.maybe_section<pepr::run::DataRecord>();
  rec.totals = r.maybe_section<pepr::run::TotalsRecord>();
  rec.budget = r.maybe_section<pepr::run::BudgetRecord>();
  rec.probe = r.maybe_section<pepr::run::ProbeRecord>();
  rec.pruned = r.maybe_section<pepr::run::PrunedRecord>();
  rec.resumed = r.maybe_section<pepr::run::ResumedRecord>();
  rec.checkpoint = r.maybe_section<pepr::run::CheckpointRecord>();
  rec.sweep = r.maybe_section<pepr::run::SweepRecord>();
  if (r.pick(4) != 0) {
    rec.epochs.emplace();
    for (int k = r.pick(4); k > 0; --k) rec.epochs->push_back(r.section<pepr::run::EpochRecord>());
  }
  if (r.pick(3) == 0) rec.extra["added_later"] = "kept";
  return rec;
}

TEST(RunRecord, RandomRecordsSurviveJsonAndTextUnchanged) {
  std::mt19937_64 rng(20261206);
  for (int i = 0; i < 2000; ++i) {
    const RunRecord rec = random_record(rng);
    const Json j = rec.to_json();
    ASSERT_EQ(RunRecord::from_json(j), rec) << j.dump(2);
    const RunRecord again = RunRecord::from_json(Json::parse(rec.dump()));
    ASSERT_EQ(again, rec) << rec.dump();
    ASSERT_EQ(again.dump(), rec.dump());
  }
}

// Every record file written by pepr train and pepr bench before the record was typed (completed,
// stopped by a budget, probed, pruned before and after its start, failed, interrupted, fp16
// with a loss scale, the sweep's own record of a running run).
std::vector<fs::path> earlier_records() {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(pepr::test::source_dir() / "tests/run/records"))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

TEST(RunRecord, RecordsWrittenByEarlierVersionsReadAndWriteBackByteForByte) {
  const auto files = earlier_records();
  ASSERT_GE(files.size(), 8u);
  std::set<std::string> statuses;
  for (const auto& f : files) {
    const std::string text = pepr::test::read_file(f);
    const RunRecord rec = RunRecord::from_json(Json::parse(text));
    EXPECT_EQ(rec.dump(), text) << f;
    // Typed, not carried as unknown members: nothing of today's format lands in `extra`.
    auto unknown = [](const auto& section) {
      return section ? section->extra.dump() : std::string("{}");
    };
    EXPECT_EQ(rec.extra.dump(), "{}") << f;
    for (const auto& e : rec.epoch_list()) EXPECT_EQ(e.extra.dump(), "{}") << f;
    for (const std::string& u :
         {unknown(rec.config), unknown(rec.model), unknown(rec.data), unknown(rec.totals),
          unknown(rec.budget), unknown(rec.probe), unknown(rec.pruned), unknown(rec.resumed),
          unknown(rec.checkpoint), unknown(rec.sweep)})
      EXPECT_EQ(u, "{}") << f;
    statuses.insert(std::string(pepr::run::name(rec.status)));
  }
  for (const char* s : {"completed", "stopped", "probed", "pruned", "failed", "interrupted"})
    EXPECT_TRUE(statuses.count(s)) << "no earlier record with status " << s;
}

TEST(RunRecord, MembersOfTheWrongTypeOrUnknownAreKeptAsTheyWere) {
  const std::string text = R"({
  "budget": "not an object",
  "epochs": [
    {
      "energy_kwh": "a string where a number belongs",
      "epoch": 1.5,
      "test_acc": 0.5,
      "time_s": 3
    }
  ],
  "model": {
    "params": 2521216.0,
    "params_1000": 1.5
  },
  "run_id": "r",
  "schema": "pepr.run/1",
  "status": "completed",
  "totals": {
    "energy_kwh": 18446744073709551615,
    "epochs_done": -2
  },
  "written_by_a_later_version": [
    1,
    2
  ]
}
)";
  const RunRecord rec = RunRecord::from_json(Json::parse(text));
  EXPECT_EQ(rec.dump(), text);
  ASSERT_EQ(rec.epoch_list().size(), 1u);
  const auto& e = rec.epoch_list()[0];
  EXPECT_FALSE(e.energy_kwh.present());
  EXPECT_FALSE(e.epoch.present()) << "1.5 is not an epoch number";
  EXPECT_EQ(e.time_s.value_or(0), 3.0);
  EXPECT_TRUE(e.time_s.other_number_kind());
  EXPECT_FALSE(rec.budget.has_value());
  EXPECT_FALSE(rec.totals->energy_kwh.present()) << "2^64-1 does not survive a double";
  EXPECT_EQ(rec.totals->epochs_done.value_or(0), -2);
  EXPECT_EQ(rec.model->params.value_or(0), 2521216) << "an integer written as a float";
  EXPECT_FALSE(rec.model->params_1000.present()) << "1.5 is not a parameter count";
  EXPECT_EQ(rec.extra.size(), 2u);
}

TEST(RunRecord, WhatIsNotARecordIsRefusedWithWhy) {
  auto why = [](const std::string& text) {
    try {
      RunRecord::from_json(Json::parse(text));
    } catch (const pepr::run::RecordError& e) {
      return std::string(e.what());
    }
    return std::string("(read)");
  };
  EXPECT_EQ(why("[1]"), "not a JSON object");
  EXPECT_EQ(why(R"({"schema":"pepr.run/2","status":"completed"})"), "not a pepr.run/1 record");
  EXPECT_EQ(why(R"({"schema":"pepr.run/1"})"), "record without a status");
  EXPECT_EQ(why(R"({"schema":"pepr.run/1","status":"done"})"),
            "unknown status 'done' (known: completed, failed, interrupted, running, stopped, "
            "probed or pruned)");
}

TEST(RunRecord, AFileWithoutARunIdIsNamedByTheFile) {
  pepr::test::TempDir dir;
  pepr::test::write_file(dir / "resnet18-derma.json",
                         R"({"schema":"pepr.run/1","status":"completed","run_id":null})");
  auto rec = pepr::run::read_record_file(dir / "resnet18-derma.json");
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->run_id.value_or(""), "resnet18-derma");

  pepr::test::write_file(dir / "n.json", R"({"schema":"pepr.run/1","status":"failed","run_id":7})");
  std::string why;
  EXPECT_FALSE(pepr::run::read_record_file(dir / "n.json", &why));
  EXPECT_EQ(why, "record whose run_id is not a string");
  pepr::test::write_file(dir / "half.json", R"({"schema":"pepr.run/1","sta)");
  EXPECT_FALSE(pepr::run::read_record_file(dir / "half.json", &why));
  EXPECT_EQ(why, "not valid JSON (a partial or foreign file?)");
}

TEST(RunRecord, EnergyIsTheTotalsElseTheSumOverEpochs) {
  RunRecord rec;
  rec.epochs.emplace(2);
  (*rec.epochs)[0].energy_kwh = 0.25;
  (*rec.epochs)[1].energy_kwh = 0.5;
  EXPECT_DOUBLE_EQ(rec.energy_kwh(), 0.75);
  rec.totals.emplace();
  rec.totals->energy_kwh = 2.0;
  EXPECT_DOUBLE_EQ(rec.energy_kwh(), 2.0);
  EXPECT_TRUE(pepr::run::is_done(pepr::run::RunStatus::pruned));
  EXPECT_FALSE(pepr::run::is_done(pepr::run::RunStatus::probed));
}

TEST(RunRecord, TheConfigurationAsAskedIsTheRunsOptions) {
  pepr::run::RunConfig c;
  c.model = "resnet18";
  c.data = "x.npz";
  c.epochs = 3;
  c.optimizer = pepr::run::Optimizer::sgd;
  c.precision = pepr::run::Precision::bf16;
  c.seed = 18446744073709551615ull;
  const auto r = pepr::run::ConfigRecord::asked(c);
  EXPECT_EQ(r.model.value_or(""), "resnet18");
  EXPECT_EQ(r.data_file.value_or(""), "x.npz");
  EXPECT_EQ(r.epochs.value_or(0), 3);
  EXPECT_EQ(r.optimizer.value_or(""), "sgd");
  EXPECT_EQ(r.precision.value_or(""), "bf16");
  EXPECT_EQ(r.seed.value_or(0), 18446744073709551615ull);
  EXPECT_TRUE(r.weights.present() && !r.weights.has_value()) << "no weights: null";
  EXPECT_EQ(pepr::run::section_to_json(r)["seed"].dump(), "18446744073709551615");
}

}  // namespace

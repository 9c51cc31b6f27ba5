// The run contract (src/run): every option written once. Randomised configurations survive
// config -> arguments -> config and config -> JSON -> config unchanged; the parsers name the flag
// and the value they refuse; validate() names the value out of range; every mode's names table
// is complete. Needs no data.
#include <random>
#include <set>
#include <type_traits>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "run/config.hpp"

namespace {

using pepr::run::RunConfig;

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const pepr::Error& e) {
    return e.what();
  }
  return "(no error)";
}

// A configuration with every member drawn at random (valid or not: the conversions must carry
// any value, validate() judges them).
RunConfig random_config(std::mt19937_64& rng) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  auto word = [&] {
    static const std::vector<std::string> words = {
        "resnet18", "x.npz", "a b", "--looks-like-a-flag", "ü/ñ", "", "=", "cuda:1", "-"};
    return words[static_cast<size_t>(pick(static_cast<int>(words.size())))];
  };
  auto real = [&] {
    static const std::vector<double> reals = {0.0, 5e-4, 0.1, 1.0 / 3.0, 1e-300, 12345.678, -2.5};
    return pick(3) == 0 ? std::uniform_real_distribution<double>(-1e6, 1e6)(rng)
                        : reals[static_cast<size_t>(pick(static_cast<int>(reals.size())))];
  };
  RunConfig c;
  for (const auto& f : pepr::run::flags())
    std::visit(
        [&](auto m) {
          using T = std::remove_cvref_t<decltype(c.*m)>;
          if (pick(4) == 0) return;  // keep the default
          if constexpr (std::is_same_v<T, std::string>)
            c.*m = word();
          else if constexpr (std::is_same_v<T, bool>)
            c.*m = pick(2) == 1;
          else if constexpr (std::is_same_v<T, double>)
            c.*m = real();
          else if constexpr (std::is_same_v<T, std::optional<double>>)
            c.*m = pick(2) ? std::optional<double>(real()) : std::nullopt;
          else if constexpr (std::is_enum_v<T>)
            c.*m = pepr::run::Names<T>::table[static_cast<size_t>(
                                                  pick(pepr::run::Names<T>::table.size()))]
                       .first;
          else if constexpr (std::is_same_v<T, pepr::run::ImageSize>)
            c.*m = pick(3) == 0 ? pepr::run::ImageSize::auto_size()
                                : pepr::run::ImageSize::pixels(pick(1000));
          else if constexpr (std::is_unsigned_v<T>)
            c.*m = rng();
          else
            c.*m = static_cast<T>(static_cast<int64_t>(rng() % 2000001) - 1000000);
        },
        f.member);
  // The required options are always given on a command line.
  if (c.model.empty()) c.model = "m";
  if (c.data.empty()) c.data = "d";
  return c;
}

TEST(RunConfig, RandomConfigsSurviveArgumentsAndJson) {
  std::mt19937_64 rng(20261206);
  int differing_from_default = 0;
  for (int i = 0; i < 2000; ++i) {
    const RunConfig c = random_config(rng);
    const auto args = pepr::run::to_args(c);
    std::vector<std::string> rest;
    const RunConfig back = pepr::run::from_args(args, &rest);
    EXPECT_TRUE(back == c) << "arguments: " << testing::PrintToString(args);
    EXPECT_TRUE(rest.empty()) << testing::PrintToString(rest);
    const auto j = pepr::run::to_json(c);
    EXPECT_TRUE(pepr::run::from_json(nlohmann::json::parse(j.dump())) == c) << j.dump();
    RunConfig only_required;
    only_required.model = c.model;
    only_required.data = c.data;
    differing_from_default += !(c == only_required);
  }
  EXPECT_GT(differing_from_default, 1900);  // the draws did exercise the members
}

TEST(RunConfig, EveryMemberIsInTheTableOnceAndEveryFlagDefaultsToOff) {
  std::set<std::string> keys, flags;
  const RunConfig defaults;
  for (const auto& f : pepr::run::flags()) {
    EXPECT_TRUE(keys.insert(std::string(f.key)).second) << f.key;
    EXPECT_TRUE(flags.insert(std::string(f.flag)).second) << f.flag;
    EXPECT_EQ(f.flag.substr(0, 2), "--");
    if (std::holds_alternative<bool RunConfig::*>(f.member)) {
      EXPECT_FALSE(defaults.*std::get<bool RunConfig::*>(f.member)) << f.flag;
    }
  }
  // Changing any one member through the table changes the configuration: no two entries point
  // at the same member, and == compares each of them.
  for (const auto& f : pepr::run::flags()) {
    RunConfig c;
    const std::string before = pepr::run::value_text(f, c);
    const auto allowed = pepr::run::allowed_values(f);
    std::string other = std::holds_alternative<bool RunConfig::*>(f.member) ? "true" : "7";
    if (!allowed.empty()) other = allowed.back() == before ? allowed.front() : allowed.back();
    pepr::run::set_from_text(f, c, other);
    EXPECT_FALSE(c == defaults) << f.flag;
    EXPECT_EQ(pepr::run::value_text(f, c), other) << f.flag;
  }
  // The JSON has every member.
  EXPECT_EQ(pepr::run::to_json(defaults).size(), pepr::run::flags().size());
}

TEST(RunConfig, ArgumentsOfTheDefaultsAreTheRequiredOnesAlone) {
  RunConfig c;
  c.model = "resnet18";
  c.data = "x.npz";
  EXPECT_EQ(pepr::run::to_args(c),
            (std::vector<std::string>{"--model", "resnet18", "--data", "x.npz"}));
  c.precision = pepr::run::Precision::bf16;
  c.pretrained = true;
  c.max_time_s = 60;
  EXPECT_EQ(pepr::run::to_args(c),
            (std::vector<std::string>{"--model", "resnet18", "--data", "x.npz", "--pretrained",
                                      "--precision", "bf16", "--max-time-s", "60"}));
}

TEST(RunConfig, FromArgsReadsEveryFormAndLeavesTheRestInOrder) {
  std::vector<std::string> rest;
  const RunConfig c = pepr::run::from_args(
      {"-m", "resnet18", "--data=x.npz", "-o", "run.json", "-e", "3", "--deterministic",
       "--lr=0.001", "--quiet", "--precision", "fp16", "--pretrained=false"},
      &rest);
  EXPECT_EQ(c.model, "resnet18");
  EXPECT_EQ(c.data, "x.npz");
  EXPECT_EQ(c.epochs, 3);
  EXPECT_TRUE(c.deterministic);
  EXPECT_EQ(c.lr, 0.001);
  EXPECT_EQ(c.precision, pepr::run::Precision::fp16);
  EXPECT_FALSE(c.pretrained);
  EXPECT_EQ(rest, (std::vector<std::string>{"-o", "run.json", "--quiet"}));
  EXPECT_NE(message_of([] { pepr::run::from_args({"--quiet"}); }).find("unknown option '--quiet'"),
            std::string::npos);
}

TEST(RunConfig, ParseErrorsNameTheFlagAndTheValue) {
  using pepr::run::from_args;
  EXPECT_EQ(message_of([] {
              from_args({"--epochs", "ten"});
            }),
            "--epochs 'ten': expected an integer");
  EXPECT_EQ(message_of([] {
              from_args({"--epochs", "99999999999"});
            }),
            "--epochs '99999999999': expected an integer");
  EXPECT_EQ(message_of([] {
              from_args({"--seed", "-1"});
            }),
            "--seed '-1': expected a non-negative integer");
  EXPECT_EQ(message_of([] { from_args({"--lr", "1e-3x"}); }), "--lr '1e-3x': expected a number");
  EXPECT_EQ(message_of([] { from_args({"--lr", "nan"}); }), "--lr 'nan': expected a number");
  EXPECT_EQ(message_of([] {
              from_args({"--precision", "fp8"});
            }),
            "--precision 'fp8': expected fp32, bf16 or fp16");
  EXPECT_EQ(message_of([] {
              from_args({"--data-placement", "gpu"});
            }),
            "--data-placement 'gpu': expected auto, device or host");
  EXPECT_EQ(message_of([] { from_args({"--lr"}); }), "--lr: needs a value");
  EXPECT_EQ(message_of([] { from_args({"--deterministic=maybe"}); }),
            "--deterministic 'maybe': expected true or false");
  // Found by fuzz_run_config: a value that is not UTF-8 made the record's JSON throw on writing.
  EXPECT_EQ(message_of([] {
              from_args({"--model", "resnet\x82"});
            }),
            "--model: the value is not valid UTF-8 (byte 7)");
}

TEST(RunConfig, JsonErrorsNameTheMember) {
  using pepr::run::from_json;
  EXPECT_EQ(message_of([] { from_json(nlohmann::json::parse(R"({"epochs": "ten"})")); }),
            "run configuration: 'epochs' is \"ten\", expected an integer");
  EXPECT_EQ(message_of([] { from_json(nlohmann::json::parse(R"({"optimiser": "adam"})")); }),
            "run configuration: unknown member 'optimiser'");
  EXPECT_EQ(message_of([] { from_json(nlohmann::json::parse(R"({"optimizer": "lion"})")); }),
            "--optimizer 'lion': expected adam or sgd");
  EXPECT_EQ(message_of([] { from_json(nlohmann::json::parse(R"({"seed": -3})")); }),
            "run configuration: 'seed' is -3, expected a non-negative integer");
  EXPECT_EQ(message_of([] { from_json(nlohmann::json::parse("[1]")); }),
            "a run configuration must be a JSON object");
  const auto c = from_json(nlohmann::json::parse(R"({"max_time_s": null, "lr": 1})"));
  EXPECT_FALSE(c.max_time_s.has_value());
  EXPECT_EQ(c.lr, 1.0);
  EXPECT_EQ(c.epochs, 10);  // missing: the default
}

TEST(RunConfig, ValidateNamesTheValueOutOfRange) {
  RunConfig ok;
  ok.model = "resnet18";
  ok.data = "x.npz";
  EXPECT_NO_THROW(ok.validate());
  struct Case {
    std::function<void(RunConfig&)> change;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](RunConfig& c) { c.epochs = 0; }, "epochs must be at least 1 (got 0)"},
      {[](RunConfig& c) { c.train_fraction = 1.5; }, "train fraction must lie in (0, 1] (got 1.5)"},
      {[](RunConfig& c) { c.lr = -1; }, "learning rate must be positive (got -1)"},
      {[](RunConfig& c) { c.batch_size = 0; }, "batch size must lie in [1, 1048576] (got 0)"},
      {[](RunConfig& c) { c.in_chans = 2; }, "input channels must be 1 or 3 (got 2)"},
      {[](RunConfig& c) { c.device = "gpu"; }, "device 'gpu': expected cpu, cuda or cuda:N"},
      {[](RunConfig& c) { c.device_data_share = 0; },
       "device data share must lie in (0, 1] (got 0)"},
      {[](RunConfig& c) { c.max_energy_wh = 0; }, "maximum energy (Wh) must be positive (got 0)"},
      {[](RunConfig& c) { c.threads = -2; }, "threads must not be negative (got -2)"},
      {[](RunConfig& c) { c.model.clear(); }, "no model given (--model)"},
      {[](RunConfig& c) { c.data = "x\xff.npz"; }, "--data: the value is not valid UTF-8 (byte 2)"},
  };
  for (const auto& k : cases) {
    RunConfig c = ok;
    k.change(c);
    EXPECT_EQ(message_of([&] { c.validate(); }), k.message);
  }
}

TEST(RunModes, NamesTablesAreCompleteAndReadBack) {
  using namespace pepr::run;
  EXPECT_EQ(all_names<Precision>(), (std::vector<std::string>{"fp32", "bf16", "fp16"}));
  EXPECT_EQ(name(DataPlacement::automatic), "auto");
  EXPECT_EQ(from_name<MemoryFormat>("channels_last"), MemoryFormat::channels_last);
  EXPECT_FALSE(from_name<RunStatus>("done").has_value());
  for (const auto& [v, n] : Names<RunStatus>::table) EXPECT_EQ(from_name<RunStatus>(n), v);
  EXPECT_EQ(join_or({"a"}), "a");
  EXPECT_EQ(join_or({"a", "b", "c"}), "a, b or c");
}

TEST(RunConfig, ParseDevice) {
  EXPECT_FALSE(pepr::run::parse_device("cpu").cuda);
  EXPECT_EQ(pepr::run::parse_device("cuda").index, -1);
  EXPECT_EQ(pepr::run::parse_device("cuda:3").index, 3);
  for (const char* bad : {"", "gpu", "cuda:", "cuda:x", "cuda:12345", "cuda3", "CPU"})
    EXPECT_THROW(pepr::run::parse_device(bad), pepr::Error) << bad;
}

}  // namespace

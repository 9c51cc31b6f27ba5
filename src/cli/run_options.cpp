#include "cli/run_options.hpp"

#include <algorithm>
#include <optional>
#include <type_traits>

#include <fmt/format.h>

#include "core/error.hpp"

namespace pepr::cli {

RunOptions::RunOptions(CLI::App* cmd, run::RunConfig& cfg, std::vector<std::string_view> only)
    : cfg_(cfg), subset_(!only.empty()) {
  const run::RunConfig defaults;
  for (const auto& f : run::flags()) {
    if (subset_ && std::find(only.begin(), only.end(), f.flag) == only.end()) continue;
    auto& b = bound_.emplace_back(Bound{&f, nullptr, {}});
    std::string names(f.flag);
    if (!f.short_flag.empty()) names = fmt::format("{},{}", f.flag, f.short_flag);
    if (std::holds_alternative<bool run::RunConfig::*>(f.member)) {
      const std::string help(f.help);
      b.option = cmd->add_flag(names, help);
      continue;
    }
    b.option = cmd->add_option(names, b.text, std::string(f.help));
    b.option->type_name(std::visit(
        [](auto m) -> std::string {
          using T = std::remove_cvref_t<decltype(std::declval<run::RunConfig>().*m)>;
          if constexpr (std::is_integral_v<T>) return "INT";
          if constexpr (std::is_same_v<T, run::ImageSize>) return "auto|INT";
          if constexpr (std::is_floating_point_v<T> || std::is_same_v<T, std::optional<double>>)
            return "NUMBER";
          return "TEXT";
        },
        f.member));
    if (f.required) b.option->required();
    const std::string dflt = run::value_text(f, defaults);
    if (!dflt.empty()) b.option->default_str(dflt);
    const auto allowed = run::allowed_values(f);
    if (!allowed.empty()) {
      b.option->check(CLI::IsMember(allowed));
    } else {
      // The table's parser judges the value while CLI11 parses: a usage error at once.
      const run::Flag* fp = &f;
      b.option->check(CLI::Validator(
          [fp](std::string& text) -> std::string {
            try {
              run::RunConfig scratch;
              run::set_from_text(*fp, scratch, text);
              return {};
            } catch (const Error& e) {
              // CLI11 names the option itself: "--lr: 'abc': expected a number".
              std::string m = e.what();
              if (m.rfind(fp->flag, 0) == 0) m.erase(0, fp->flag.size() + 1);
              return m;
            }
          },
          ""));
    }
  }
}

void RunOptions::apply() const {
  for (const auto& b : bound_) {
    if (b.option->count() == 0) continue;
    const bool flag = std::holds_alternative<bool run::RunConfig::*>(b.flag->member);
    run::set_from_text(*b.flag, cfg_, flag ? "true" : b.text);
  }
  try {
    if (!subset_) {
      cfg_.validate();
    } else {
      // Only these options were given: the others (the model, the data) are each run's.
      run::RunConfig check = cfg_;
      check.model = check.data = "-";
      check.validate();
    }
  } catch (const Error& e) {
    throw CLI::ValidationError(e.what());
  }
}

std::vector<std::string> RunOptions::given_args() const {
  std::vector<std::string> out;
  for (const auto& b : bound_) {
    if (b.option->count() == 0) continue;
    out.emplace_back(b.flag->flag);
    if (!std::holds_alternative<bool run::RunConfig::*>(b.flag->member))
      out.push_back(run::value_text(*b.flag, cfg_));
  }
  return out;
}

}  // namespace pepr::cli

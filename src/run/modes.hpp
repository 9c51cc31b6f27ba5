// The modes of a run (optimizer, precision, data placement, memory format) and a run's status, as
// enums, each with one table of the names that command lines, plans, JSON and records use. The
// CLI takes its allowed values and help from these tables; nothing else spells the names.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pepr::run {

enum class Optimizer { adam, sgd };
enum class Precision { fp32, bf16, fp16 };
enum class DataPlacement { automatic, device, host };
enum class MemoryFormat { automatic, contiguous, channels_last };
// A run record's status: pepr train writes the first five; a sweep also records probed (a
// --prune-top probe that will be resumed) and pruned (stopped because it cannot make the top K).
enum class RunStatus { completed, failed, interrupted, running, stopped, probed, pruned };

// Names<E>::table: every value of E with its name; Names<E>::what: what E is, for messages.
template <typename E>
struct Names;

template <>
struct Names<Optimizer> {
  static constexpr std::string_view what = "optimizer";
  static constexpr std::array<std::pair<Optimizer, std::string_view>, 2> table{
      {{Optimizer::adam, "adam"}, {Optimizer::sgd, "sgd"}}};
};
template <>
struct Names<Precision> {
  static constexpr std::string_view what = "precision";
  static constexpr std::array<std::pair<Precision, std::string_view>, 3> table{
      {{Precision::fp32, "fp32"}, {Precision::bf16, "bf16"}, {Precision::fp16, "fp16"}}};
};
template <>
struct Names<DataPlacement> {
  static constexpr std::string_view what = "data placement";
  static constexpr std::array<std::pair<DataPlacement, std::string_view>, 3> table{
      {{DataPlacement::automatic, "auto"},
       {DataPlacement::device, "device"},
       {DataPlacement::host, "host"}}};
};
template <>
struct Names<MemoryFormat> {
  static constexpr std::string_view what = "memory format";
  static constexpr std::array<std::pair<MemoryFormat, std::string_view>, 3> table{
      {{MemoryFormat::automatic, "auto"},
       {MemoryFormat::contiguous, "contiguous"},
       {MemoryFormat::channels_last, "channels_last"}}};
};
template <>
struct Names<RunStatus> {
  static constexpr std::string_view what = "run status";
  static constexpr std::array<std::pair<RunStatus, std::string_view>, 7> table{
      {{RunStatus::completed, "completed"},
       {RunStatus::failed, "failed"},
       {RunStatus::interrupted, "interrupted"},
       {RunStatus::running, "running"},
       {RunStatus::stopped, "stopped"},
       {RunStatus::probed, "probed"},
       {RunStatus::pruned, "pruned"}}};
};

template <typename E>
constexpr std::string_view name(E value) {
  for (const auto& [v, n] : Names<E>::table)
    if (v == value) return n;
  return "?";
}

template <typename E>
std::optional<E> from_name(std::string_view text) {
  for (const auto& [v, n] : Names<E>::table)
    if (n == text) return v;
  return std::nullopt;
}

template <typename E>
std::vector<std::string> all_names() {
  std::vector<std::string> out;
  for (const auto& [v, n] : Names<E>::table) out.emplace_back(n);
  return out;
}

// "fp32, bf16 or fp16".
std::string join_or(const std::vector<std::string>& names);

}  // namespace pepr::run

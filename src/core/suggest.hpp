// "Did you mean ...?": the closest of a set of names to a mistyped one.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pepr {

// Levenshtein distance (insertions, deletions, substitutions; a swap of two adjacent characters
// counts as one edit), case-sensitive.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `name` when it is close enough to be a typo: at most
// max(1, min(3, |name| / 3)) edits away, or `name` is a prefix of it; nullopt otherwise. Ties
// go to the earliest candidate.
std::optional<std::string> closest_name(std::string_view name,
                                        const std::vector<std::string>& candidates);

// " (did you mean X?)" for closest_name's answer, else "".
std::string did_you_mean(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace pepr

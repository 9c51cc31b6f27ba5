// Shape checks for JSON read from files (run records, tracker records): a missing key or a value
// of the wrong type is an Error that names the key's path, never a crash or an "internal error".
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace pepr {

// JSON types a value may have, combined with |.
enum JsonType : unsigned {
  kJsonNull = 1,
  kJsonBool = 2,
  kJsonNumber = 4,
  kJsonString = 8,
  kJsonArray = 16,
  kJsonObject = 32,
};

// The value's type in words: "a number", "a string", "null", ...
std::string json_type_name(const nlohmann::json& v);

// The member `key` of `obj`, which lies at `path` ("" for the document itself), checked to have
// one of `types`. Absent: nullptr when `required` is false, else an Error. Wrong type: an Error
// "PATH.KEY: expected a number, found a string". `obj` must be an object (check it first).
const nlohmann::json* check_member(const nlohmann::json& obj, std::string_view path,
                                   std::string_view key, unsigned types, bool required = true);

// Checks that `v`, which lies at `path`, has one of `types`; else an Error "PATH: expected an
// object, found an array".
void check_type(const nlohmann::json& v, std::string_view path, unsigned types);

// `path` + "." + `key` (or `key` alone at the top), and `path` + "[i]".
std::string json_path(std::string_view path, std::string_view key);
std::string json_path(std::string_view path, std::size_t index);

// Offset of the first byte that is not valid UTF-8 (overlong forms, surrogates and code points
// above U+10FFFF included), or npos when `s` is valid.
std::size_t utf8_error_offset(std::string_view s);

}  // namespace pepr

#include "core/json_check.hpp"

#include <vector>

#include <fmt/format.h>

#include "core/error.hpp"

namespace pepr {

std::string json_type_name(const nlohmann::json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "binary data";
}

std::string json_path(std::string_view path, std::string_view key) {
  return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
}

std::string json_path(std::string_view path, std::size_t index) {
  return fmt::format("{}[{}]", path, index);
}

namespace {

bool has_type(const nlohmann::json& v, unsigned types) {
  return ((types & kJsonNull) && v.is_null()) || ((types & kJsonBool) && v.is_boolean()) ||
         ((types & kJsonNumber) && v.is_number()) || ((types & kJsonString) && v.is_string()) ||
         ((types & kJsonArray) && v.is_array()) || ((types & kJsonObject) && v.is_object());
}

std::string expected(unsigned types) {
  static const std::pair<unsigned, const char*> kNames[] = {
      {kJsonObject, "an object"}, {kJsonArray, "an array"}, {kJsonString, "a string"},
      {kJsonNumber, "a number"},  {kJsonBool, "a boolean"}, {kJsonNull, "null"}};
  std::vector<std::string> names;
  for (const auto& [bit, name] : kNames)
    if (types & bit) names.emplace_back(name);
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i)
    out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return out;
}

}  // namespace

void check_type(const nlohmann::json& v, std::string_view path, unsigned types) {
  if (!has_type(v, types))
    throw Error(fmt::format("{}: expected {}, found {}", path, expected(types), json_type_name(v)));
}

const nlohmann::json* check_member(const nlohmann::json& obj, std::string_view path,
                                   std::string_view key, unsigned types, bool required) {
  const std::string where = json_path(path, key);
  if (!obj.is_object())
    throw Error(fmt::format("{}: expected an object, found {}",
                            path.empty() ? "the document" : path, json_type_name(obj)));
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) throw Error(fmt::format("{}: missing (expected {})", where, expected(types)));
    return nullptr;
  }
  check_type(*it, where, types);
  return &*it;
}

std::size_t utf8_error_offset(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned cp = 0, min = 0;
    if (c >= 0xC2 && c <= 0xDF)
      len = 2, cp = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
      len = 3, cp = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
      len = 4, cp = c & 0x07, min = 0x10000;
    else
      return i;
    if (i + len > n) return i;
    for (std::size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string_view::npos;
}

}  // namespace pepr

#include "core/error.hpp"

#include <fmt/format.h>

namespace pepr {

ParseError::ParseError(const std::string& file, std::size_t line, const std::string& column,
                       const std::string& what)
    : Error(fmt::format("{}:{}:{}: {}", file, line, column, what)) {}

ParseError::ParseError(const std::string& file, std::size_t line, const std::string& what)
    : Error(fmt::format("{}:{}: {}", file, line, what)) {}

}  // namespace pepr

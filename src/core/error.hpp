// Errors that reach the user: a message that says where and what was wrong.
#pragma once

#include <stdexcept>
#include <string>

namespace pepr {

// Any failure caused by input (files, options, data). The CLI prints what() and exits non-zero.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A failure at a place in a text file: the message starts with FILE:LINE[:COLUMN]:.
class ParseError : public Error {
 public:
  ParseError(const std::string& file, std::size_t line, const std::string& column,
             const std::string& what);
  ParseError(const std::string& file, std::size_t line, const std::string& what);
};

}  // namespace pepr

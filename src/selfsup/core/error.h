// The one error type for bad input: a missing or corrupt file, a malformed recipe, an
// incompatible checkpoint. Its message is one line a person can act on (path/key + what was
// expected); the CLI prints it and exits 2.
#pragma once

#include <stdexcept>
#include <string>

namespace selfsup {

class Error : public std::runtime_error {
 public:
  // Line breaks become spaces, so a message that quotes the input (a YAML parser's complaint about
  // the character it met, a file name) still prints as one line.
  explicit Error(const std::string& message) : std::runtime_error(one_line(message)) {}

 private:
  static std::string one_line(std::string message) {
    for (char& c : message)
      if (c == '\n' || c == '\r') c = ' ';
    return message;
  }
};

}  // namespace selfsup

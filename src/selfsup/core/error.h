// The one error type for bad input: a missing or corrupt file, a malformed recipe, an
// incompatible checkpoint. Its message is one line a person can act on (path/key + what was
// expected); the CLI prints it and exits 2.
#pragma once

#include <stdexcept>
#include <string>

namespace selfsup {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace selfsup

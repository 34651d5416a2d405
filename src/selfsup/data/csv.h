// Comma- (or tab-) separated files as pandas and Python's csv module write them: caption lists.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace selfsup::data {

struct CsvRecord {
  int64_t line;  // where the record starts (1-based)
  std::vector<std::string> fields;
};

// RFC 4180 as pandas writes it: fields separated by commas (or `separator`), a field that starts with a quote runs
// to the matching quote ("" inside is one quote, commas and newlines are literal), CRLF or LF line
// ends. A quote inside an unquoted field is kept literally, as Python's csv module does, because
// hand-edited caption files have them. Blank lines are skipped.
// Throws selfsup::Error naming the file and line for an unterminated quote or text after one.
std::vector<CsvRecord> read_csv(const std::string& path, char separator = ',');

}  // namespace selfsup::data

#include "selfsup/data/csv.h"

#include "selfsup/core/error.h"
#include "selfsup/core/fs.h"

namespace selfsup::data {
namespace {

bool is_blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

}  // namespace

std::vector<CsvRecord> read_csv(const std::string& path, char separator) {
  const std::string text = read_file(path);
  std::vector<CsvRecord> records;
  CsvRecord record{1, {}};
  std::string field;
  int64_t line = 1;
  bool quoted = false;       // inside a quoted field
  bool after_quote = false;  // a quoted field just closed: only , or end of line may follow
  bool field_started = false;
  auto end_record = [&] {
    record.fields.push_back(std::move(field));
    field.clear();
    const bool blank = record.fields.size() == 1 && is_blank(record.fields[0]) && !after_quote;
    if (!blank) records.push_back(std::move(record));
    record = CsvRecord{line + 1, {}};
    after_quote = field_started = false;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
        after_quote = true;
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == separator) {
      record.fields.push_back(std::move(field));
      field.clear();
      after_quote = field_started = false;
    } else if (c == '\n') {
      end_record();
      ++line;
    } else if (c == '\r' && (i + 1 == text.size() || text[i + 1] == '\n')) {
      // the CR of a CRLF line end
    } else if (after_quote) {
      throw Error(path + ":" + std::to_string(line) +
                  ": expected the separator or the end of the line after a closing quote");
    } else if (c == '"' && !field_started) {
      quoted = field_started = true;
    } else {
      field += c;
      field_started = true;
    }
  }
  if (quoted)
    throw Error(path + ":" + std::to_string(record.line) + ": unterminated quoted field");
  if (!field.empty() || !record.fields.empty() || after_quote) end_record();
  return records;
}

}  // namespace selfsup::data

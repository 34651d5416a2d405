// Unicode without ICU for BERT's BasicTokenizer: UTF-8 decoding, categories, lower-casing and
// accent stripping from built-in tables (what they cover is listed in unicode.cpp).
#pragma once

#include <string>
#include <vector>

namespace selfsup::clip {

// Appends code point `cp` to `out` as UTF-8.
void append_utf8(std::string& out, char32_t cp);

// Whether `text` is well-formed UTF-8.
bool is_valid_utf8(const std::string& text);

// BERT's BasicTokenizer: clean (drop control characters, map whitespace to spaces), split CJK
// characters, optionally lower-case and strip accents, then split on whitespace and punctuation.
std::vector<std::u32string> basic_tokenize(const std::string& text, bool lower_case);

}  // namespace selfsup::clip

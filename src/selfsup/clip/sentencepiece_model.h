// Checks a SentencePiece .model file's normalisation tables before SentencePiece reads them.
// SentencePiece trusts them: a damaged table (one corrupted byte was enough, found by
// fuzz/fuzz_sentencepiece.cpp) makes its normaliser read outside the model and crash the process.
#pragma once

#include <string>

namespace selfsup::clip {

// Throws selfsup::Error naming `source` when a precompiled character map in `model` (the
// normaliser's or the denormaliser's) could send a lookup outside its table. A model too malformed
// to walk is left to SentencePiece's own parser, which rejects it.
void check_sentencepiece_model(const std::string& model, const std::string& source);

}  // namespace selfsup::clip

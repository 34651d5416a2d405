// Verifies the CRC-32 of every entry of a zip archive (LibTorch's checkpoint format) before
// LibTorch reads it. LibTorch does not check them, and its reader trusts what it finds: a damaged
// pickle or code entry crashed it inside its TorchScript type parser (found by
// fuzz/fuzz_checkpoint.cpp), so damage must be caught before it gets there.
#pragma once

#include <string>

namespace selfsup::io {

// `bytes` is the file `path`. Throws selfsup::Error "<path>: <what> (<detail>)" when it is not a
// zip archive, an entry runs past its end or names itself differently in its two headers, or an
// entry's bytes (inflated, for the deflated code files LibTorch writes) do not match its CRC-32.
// `what` says what the file should be, e.g. "not a readable checkpoint". Compression other than
// none or deflate is an error; ZIP64 archives (over 4 GiB) are not checked.
void verify_zip_crcs(const std::string& bytes, const std::string& path, const std::string& what);

}  // namespace selfsup::io

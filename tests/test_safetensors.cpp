// safetensors I/O: exact round trips of every dtype and of metadata, the header layout Hugging
// Face's writer produces, interop both ways with a pure-Python implementation of the spec (struct +
// json + tensor bytes, no safetensors package), and one clear error per kind of malformed file.
#include "selfsup/core/error.h"
#include "selfsup/io/safetensors.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace selfsup;

using selfsup::test_util::contains;
using selfsup::test_util::error_message;
using selfsup::test_util::TempDir;

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A safetensors file from a header string and a data buffer, exactly as the spec lays it out.
void write_raw(const std::string& path, const std::string& header, const std::string& buffer) {
  std::string bytes(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  test_util::write_text_file(path, bytes + header + buffer);
}

// One 2 x 3 tensor per dtype, with values every dtype holds exactly (the same lists appear in the
// Python scripts below).
TensorMap every_dtype() {
  const std::vector<double> floats{-2.5, -1.0, 0.0, 0.5, 1.5, 3.0};
  const std::vector<int64_t> ints{-3, -2, -1, 0, 1, 127};
  const std::vector<int64_t> bytes{0, 1, 2, 3, 200, 255};
  const auto f = torch::tensor(floats, torch::kDouble).reshape({2, 3});
  const auto i = torch::tensor(ints, torch::kLong).reshape({2, 3});
  TensorMap d;
  d["f64"] = f.to(torch::kDouble);
  d["f32"] = f.to(torch::kFloat);
  d["f16"] = f.to(torch::kHalf);
  d["bf16"] = f.to(torch::kBFloat16);
  d["i64"] = i.to(torch::kLong) * static_cast<int64_t>(1000000000000);  // beyond 32 bits
  d["i32"] = i.to(torch::kInt) * 10000000;
  d["i16"] = i.to(torch::kShort) * 200;
  d["i8"] = i.to(torch::kChar);
  d["u8"] = torch::tensor(bytes, torch::kLong).reshape({2, 3}).to(torch::kByte);
  d["bool"] = torch::tensor(std::vector<int64_t>{1, 0, 1, 1, 0, 0}).reshape({2, 3}).to(torch::kBool);
  return d;
}

void expect_same(const TensorMap& expected, const TensorMap& actual) {
  ASSERT_EQ(expected.size(), actual.size());
  for (const auto& [name, t] : expected) {
    ASSERT_TRUE(actual.count(name)) << name;
    const auto& a = actual.at(name);
    EXPECT_EQ(a.scalar_type(), t.scalar_type()) << name;
    EXPECT_EQ(a.sizes(), t.sizes()) << name;
    EXPECT_TRUE(torch::equal(a, t)) << name;
  }
}

// The Python side of the interop tests: expected tensors rebuilt from the same value lists.
const char* kPythonExpected = R"PY(
import json, struct, sys, torch
DT = {'F64': torch.float64, 'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16,
      'I64': torch.int64, 'I32': torch.int32, 'I16': torch.int16, 'I8': torch.int8,
      'U8': torch.uint8, 'BOOL': torch.bool}
f = torch.tensor([-2.5, -1.0, 0.0, 0.5, 1.5, 3.0], dtype=torch.float64).reshape(2, 3)
i = torch.tensor([-3, -2, -1, 0, 1, 127], dtype=torch.int64).reshape(2, 3)
expected = {
  'f64': ('F64', f), 'f32': ('F32', f.float()), 'f16': ('F16', f.half()), 'bf16': ('BF16', f.bfloat16()),
  'i64': ('I64', i * 1000000000000), 'i32': ('I32', i.int() * 10000000), 'i16': ('I16', i.short() * 200),
  'i8': ('I8', i.to(torch.int8)), 'u8': ('U8', torch.tensor([0, 1, 2, 3, 200, 255], dtype=torch.uint8).reshape(2, 3)),
  'bool': ('BOOL', torch.tensor([1, 0, 1, 1, 0, 0]).reshape(2, 3).bool()),
}
)PY";

}  // namespace

TEST(Safetensors, RoundTripsEveryDtypeExactly) {
  TempDir dir;
  auto tensors = every_dtype();
  tensors["scalar"] = torch::tensor(7.25);                            // 0-d
  tensors["empty"] = torch::zeros({0, 4});                            // no bytes
  tensors["strided"] = torch::arange(12, torch::kFloat).reshape({3, 4}).t();  // non-contiguous view
  io::write_safetensors(dir / "a.safetensors", tensors);
  EXPECT_FALSE(fs::exists(dir / "a.safetensors.tmp"));
  const auto file = io::read_safetensors(dir / "a.safetensors");
  expect_same(tensors, file.tensors);
  EXPECT_TRUE(file.metadata.empty());
  // The returned tensors own their memory: still valid (and writable) after the mapping is gone.
  auto f32 = file.tensors.at("f32");
  f32.add_(1);
  EXPECT_FLOAT_EQ(f32[0][0].item<float>(), -1.5f);
}

TEST(Safetensors, MetadataRoundTrips) {
  TempDir dir;
  const io::SafetensorsMetadata meta{{"format", "pt"}, {"note", "ünïcode, \"quotes\" and\nnewline"}, {"empty", ""}};
  io::write_safetensors(dir / "m.safetensors", {{"w", torch::ones({2})}}, meta);
  const auto file = io::read_safetensors(dir / "m.safetensors");
  EXPECT_EQ(file.metadata, meta);
  EXPECT_TRUE(torch::equal(file.tensors.at("w"), torch::ones({2})));
  // Metadata only, no tensors: still a valid file.
  io::write_safetensors(dir / "only_meta.safetensors", {}, {{"k", "v"}});
  const auto only = io::read_safetensors(dir / "only_meta.safetensors");
  EXPECT_TRUE(only.tensors.empty());
  EXPECT_EQ(only.metadata.at("k"), "v");
}

TEST(Safetensors, HeaderLayoutMatchesHuggingFaceWriter) {
  TempDir dir;
  io::write_safetensors(dir / "h.safetensors", every_dtype(), {{"format", "pt"}});
  const std::string bytes = read_all(dir / "h.safetensors");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(n % 8, 0u);
  const std::string header = bytes.substr(8, n);
  const size_t json_end = header.rfind('}') + 1;  // HF pads the JSON with spaces, nothing else
  EXPECT_LT(n - json_end, 8u);
  EXPECT_EQ(header.find_first_not_of(' ', json_end), std::string::npos);
  const auto j = nlohmann::json::parse(header);  // trailing spaces are JSON whitespace
  // Keys sorted; every tensor aligned to its element size; the buffer exactly covered.
  std::vector<std::string> keys;
  uint64_t covered = 0;
  for (const auto& [k, v] : j.items()) {
    keys.push_back(k);
    if (k == "__metadata__") continue;
    const auto begin = v["data_offsets"][0].get<uint64_t>(), end = v["data_offsets"][1].get<uint64_t>();
    const uint64_t elem = (end - begin) / 6;
    EXPECT_EQ(begin % elem, 0u) << k;
    covered += end - begin;
  }
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  EXPECT_EQ(covered, bytes.size() - 8 - n);
  EXPECT_EQ(j["__metadata__"]["format"], "pt");
}

TEST(Safetensors, ReadsFileWrittenByPython) {
  if (!test_util::python_torch_available()) GTEST_SKIP() << "python3 with torch not available";
  TempDir dir;
  test_util::write_text_file(dir / "write.py", std::string(kPythonExpected) + R"PY(
# The spec by hand: sizes, offsets in dict order (deliberately unaligned), unpadded header.
header, chunks, offset = {'__metadata__': {'source': 'python'}}, [], 0
for name, (dtype, t) in expected.items():
    raw = (t.view(torch.int16) if dtype == 'BF16' else t).numpy().tobytes()
    header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(raw)]}
    chunks.append(raw)
    offset += len(raw)
h = json.dumps(header).encode('utf-8')
with open(sys.argv[1], 'wb') as out:
    out.write(struct.pack('<Q', len(h)) + h + b''.join(chunks))
)PY");
  ASSERT_EQ(std::system(("/usr/bin/python3 " + (dir / "write.py") + " " + (dir / "py.safetensors")).c_str()), 0);
  const auto file = io::read_safetensors(dir / "py.safetensors");
  expect_same(every_dtype(), file.tensors);
  EXPECT_EQ(file.metadata.at("source"), "python");
}

TEST(Safetensors, PythonReadsFileWrittenByCpp) {
  if (!test_util::python_torch_available()) GTEST_SKIP() << "python3 with torch not available";
  TempDir dir;
  io::write_safetensors(dir / "cpp.safetensors", every_dtype(), {{"source", "c++"}});
  test_util::write_text_file(dir / "check.py", std::string(kPythonExpected) + R"PY(
raw = open(sys.argv[1], 'rb').read()
(n,) = struct.unpack('<Q', raw[:8])
assert n % 8 == 0, n
header = json.loads(raw[8:8 + n].decode('utf-8'))
buf = raw[8 + n:]
assert header.pop('__metadata__') == {'source': 'c++'}
assert sorted(header) == sorted(expected), sorted(header)
for name, (dtype, want) in expected.items():
    e = header[name]
    assert e['dtype'] == dtype and e['shape'] == list(want.shape), (name, e)
    b, end = e['data_offsets']
    got = torch.frombuffer(bytearray(buf[b:end]), dtype=DT[dtype]).reshape(e['shape'])
    assert torch.equal(got, want), (name, got, want)
print('ok')
)PY");
  EXPECT_EQ(std::system(("/usr/bin/python3 " + (dir / "check.py") + " " + (dir / "cpp.safetensors")).c_str()), 0);
}

TEST(Safetensors, MalformedFilesGiveOneLineErrors) {
  TempDir dir;
  const auto expect_error = [&](const std::string& name, const std::string& expected) {
    const std::string path = dir / name;
    const std::string msg = error_message([&] { io::read_safetensors(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(expected), std::string::npos) << "expected '" << expected << "' in: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  };
  const std::string f32x2 = std::string(8, '\0');  // two F32 zeros

  expect_error("missing.safetensors", "cannot open");
  test_util::write_text_file(dir / "short.safetensors", "abc");
  expect_error("short.safetensors", "shorter than 8 bytes");
  test_util::write_text_file(dir / "empty.safetensors", "");
  expect_error("empty.safetensors", "shorter than 8 bytes");

  std::string huge(8, '\0');
  huge[0] = '\xff';
  huge[5] = '\x01';
  test_util::write_text_file(dir / "huge.safetensors", huge + "{}");
  expect_error("huge.safetensors", "is beyond the file");

  write_raw(dir / "json.safetensors", "{\"w\": {\"dtype\": \"F32\",", f32x2);
  expect_error("json.safetensors", "invalid JSON");
  write_raw(dir / "array.safetensors", "[1, 2]", "");
  expect_error("array.safetensors", "expected a JSON object");

  write_raw(dir / "dtype.safetensors", R"({"w": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}})", "xx");
  expect_error("dtype.safetensors", "unknown dtype 'F8_E4M3'");

  write_raw(dir / "range.safetensors", R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", f32x2);
  expect_error("range.safetensors", "out of range");
  write_raw(dir / "reversed.safetensors", R"({"w": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}})", f32x2);
  expect_error("reversed.safetensors", "out of range");

  write_raw(dir / "overlap.safetensors",
            R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
            std::string(12, '\0'));
  expect_error("overlap.safetensors", "'a' and 'b' overlap");

  write_raw(dir / "size.safetensors", R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", f32x2);
  expect_error("size.safetensors", "needs 12");
  write_raw(dir / "overflow.safetensors",
            R"({"w": {"dtype": "F64", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}})", f32x2);
  expect_error("overflow.safetensors", "more than 2^64");

  write_raw(dir / "shape.safetensors", R"({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", f32x2);
  expect_error("shape.safetensors", "non-negative integers");
  write_raw(dir / "entry.safetensors", R"({"w": {"dtype": "F32", "shape": [2]}})", f32x2);
  expect_error("entry.safetensors", "data_offsets");
  write_raw(dir / "meta.safetensors", R"({"__metadata__": {"n": 3}})", "");
  expect_error("meta.safetensors", "must be a string");
}

TEST(Safetensors, WriteRejectsUnsupportedTensorsAndLeavesNoFile) {
  TempDir dir;
  const std::string path = dir / "bad.safetensors";
  const auto complex = torch::zeros({2}, torch::kComplexFloat);
  EXPECT_NE(error_message([&] { io::write_safetensors(path, {{"c", complex}}); }).find("'c' has dtype"),
            std::string::npos);
  EXPECT_NE(error_message([&] { io::write_safetensors(path, {{"__metadata__", torch::ones({1})}}); })
                .find("__metadata__"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_NE(error_message([&] { io::write_safetensors(dir / "no_such_dir/x.safetensors", {}); }).find("cannot write"),
            std::string::npos);
}

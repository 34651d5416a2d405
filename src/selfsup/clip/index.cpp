#include "selfsup/clip/index.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "selfsup/core/error.h"
#include "selfsup/core/fs.h"
#include "selfsup/models/state_dict.h"

namespace selfsup::clip {
namespace {

constexpr char kMagic[8] = {'S', 'S', 'I', 'D', 'X', '0', '0', '1'};
constexpr uint64_t kAlign = 64;

uint64_t fnv1a(uint64_t h, const void* data, size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

uint64_t align_up(uint64_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

}  // namespace

void write_index(const std::string& path, const torch::Tensor& embeddings, const std::vector<std::string>& paths,
                 const nlohmann::json& model, const AnnIndex* ann) {
  if (embeddings.dim() != 2 || embeddings.size(0) != static_cast<int64_t>(paths.size()))
    throw Error(path + ": index needs N x D embeddings and N paths");
  if (ann && ann->size() != embeddings.size(0))
    throw Error(path + ": the approximate index holds " + std::to_string(ann->size()) + " rows, the index " +
                std::to_string(embeddings.size(0)));
  const auto data = embeddings.detach().to(torch::kCPU, torch::kFloat).contiguous();
  nlohmann::json header{{"count", data.size(0)}, {"dim", data.size(1)}, {"model", model}, {"paths", paths}};
  if (ann) header["ann"] = ann->describe();
  std::string text = header.dump();
  const uint64_t prefix = sizeof(kMagic) + sizeof(uint64_t);
  text.append((kAlign - (prefix + text.size()) % kAlign) % kAlign, ' ');
  const uint64_t size = text.size();  // little-endian on every platform LibTorch supports here
  atomic_write(path, [&](std::ostream& out) {
    out.write(kMagic, sizeof(kMagic));
    out.write(reinterpret_cast<const char*>(&size), sizeof(size));
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    const uint64_t data_bytes = static_cast<uint64_t>(data.numel()) * sizeof(float);
    out.write(static_cast<const char*>(data.data_ptr()), static_cast<std::streamsize>(data_bytes));
    if (!ann) return;
    const uint64_t end = prefix + size + data_bytes;
    out.write(std::string(align_up(end) - end, '\0').data(), static_cast<std::streamsize>(align_up(end) - end));
    ann->write(out);
  });
}

EmbeddingIndex read_index(const std::string& path, bool for_append) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw Error(path + ": cannot open index (" + std::strerror(errno) + ")");
  struct stat st {};
  ::fstat(fd, &st);
  const auto file_size = static_cast<uint64_t>(st.st_size);
  void* base = file_size ? ::mmap(nullptr, file_size, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
  ::close(fd);
  if (base == MAP_FAILED) throw Error(path + ": not an embedding index (empty or unreadable)");
  std::shared_ptr<void> mapping(base, [file_size](void* p) { ::munmap(p, file_size); });
  const auto* bytes = static_cast<const char*>(base);
  const uint64_t prefix = sizeof(kMagic) + sizeof(uint64_t);
  if (file_size < prefix || std::memcmp(bytes, kMagic, sizeof(kMagic)) != 0)
    throw Error(path + ": not an embedding index (written by selfsup embed?)");
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes + sizeof(kMagic), sizeof(header_size));
  if (header_size > file_size - prefix) throw Error(path + ": truncated index (header runs past the end)");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes + prefix, bytes + prefix + header_size);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": corrupt index header: " + e.what());
  }
  EmbeddingIndex index;
  int64_t count = 0, dim = 0;
  try {
    count = header.at("count").get<int64_t>();
    dim = header.at("dim").get<int64_t>();
    index.paths = header.at("paths").get<std::vector<std::string>>();
    index.model = header.value("model", nlohmann::json::object());
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": corrupt index header: " + e.what());
  }
  const auto inconsistent = [&] {
    return Error(path + ": truncated or inconsistent index (" + std::to_string(count) + " x " + std::to_string(dim) +
                 " embeddings, " + std::to_string(file_size) + " bytes)");
  };
  // count x dim floats must fit in the file (checked before multiplying: no overflow).
  if (count < 0 || dim <= 0 || static_cast<int64_t>(index.paths.size()) != count ||
      static_cast<uint64_t>(count) > file_size / sizeof(float) / static_cast<uint64_t>(dim))
    throw inconsistent();
  const uint64_t data_end = prefix + header_size + static_cast<uint64_t>(count) * static_cast<uint64_t>(dim) * sizeof(float);
  const bool has_ann = header.contains("ann");  // then the FAISS part follows, from the next multiple of 64
  if (has_ann ? align_up(data_end) >= file_size : data_end != file_size) throw inconsistent();
  if (has_ann) {
    index.ann = std::make_shared<AnnIndex>(AnnIndex::read(path, align_up(data_end), file_size, header["ann"], /*mmap=*/!for_append));
    if (index.ann->size() != count)
      throw Error(path + ": inconsistent index: the approximate part holds " + std::to_string(index.ann->size()) +
                  " rows, the header " + std::to_string(count));
  }
  index.embeddings = torch::from_blob(const_cast<char*>(bytes + prefix + header_size), {count, dim}, torch::kFloat);
  index.mapping = mapping;
  index.path = path;
  if (!torch::isfinite(index.embeddings).all().item<bool>())
    throw Error(path + ": corrupt index: it holds NaN or infinite embeddings");
  // Scores are cosines only for unit rows; write_index stores them so (float32 rounding: ~1e-7).
  if (count > 0) {
    const auto off = (index.embeddings.norm(2, 1) - 1).abs().max().item<double>();
    if (off > 1e-3) throw Error(path + ": corrupt index: embeddings are not unit length (a norm is off by " + std::to_string(off) + ")");
  }
  return index;
}

SearchOptions configure_search(EmbeddingIndex& index, bool exact, int64_t nprobe, int64_t ef_search) {
  const std::string type = index.ann ? index.ann->type() : "flat";
  if (nprobe < 0 || ef_search < 0) throw Error("--nprobe and --ef-search must be positive");
  if (nprobe > 0 && type != "ivf") throw Error(index.path + ": --nprobe applies to IVF indexes; this one is " + type);
  if (ef_search > 0 && type != "hnsw") throw Error(index.path + ": --ef-search applies to HNSW indexes; this one is " + type);
  if (nprobe > 0 || ef_search > 0) index.ann->set_search_param(nprobe + ef_search);
  return SearchOptions{exact};
}

std::vector<Match> search(const EmbeddingIndex& index, const torch::Tensor& query, int64_t k, const SearchOptions& options) {
  torch::NoGradGuard no_grad;
  if (query.numel() != index.embeddings.size(1))
    throw Error(index.path + ": " + std::to_string(index.embeddings.size(1)) + "-dimensional embeddings, the query has " +
                std::to_string(query.numel()) + ": the index was built with another model");
  const auto q = query.to(torch::kCPU, torch::kFloat).reshape({-1}).contiguous();
  torch::Tensor values, rows;
  if (index.ann && !options.exact) {
    // Candidates from the approximate index, scored exactly like the full scan scores them.
    const auto found = torch::tensor(index.ann->candidates(q.data_ptr<float>(), k), torch::kLong);
    const auto order = torch::mv(index.embeddings.index_select(0, found), q).sort(0, /*descending=*/true);
    values = std::get<0>(order);
    rows = found.index_select(0, std::get<1>(order));
  } else {
    const auto top = torch::mv(index.embeddings, q).topk(std::min<int64_t>(k, index.embeddings.size(0)));
    values = std::get<0>(top), rows = std::get<1>(top);
  }
  std::vector<Match> matches;
  for (int64_t i = 0; i < rows.size(0); ++i) matches.push_back({rows[i].item<int64_t>(), values[i].item<float>()});
  return matches;
}

std::string model_fingerprint(const torch::nn::Module& model) {
  uint64_t h = 1469598103934665603ULL;
  for (const auto& [name, tensor] : models::state_dict(model)) {
    const auto t = tensor.detach().cpu().contiguous();
    h = fnv1a(h, name.data(), name.size());
    h = fnv1a(h, t.data_ptr(), static_cast<size_t>(t.numel() * t.element_size()));
  }
  std::ostringstream s;
  s << std::hex << std::setw(16) << std::setfill('0') << h;
  return s.str();
}

}  // namespace selfsup::clip

// Approximate (FAISS) search indexes: recall against exact search on a synthetic clustered
// collection, the round trip through the index file (memory-mapped and not), appending rows, and
// the errors for a corrupt approximate part or mismatched search options.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "test_util.h"
#include "selfsup/clip/ann_index.h"
#include "selfsup/clip/index.h"
#include "selfsup/core/error.h"

using namespace selfsup;

namespace {

// Unit vectors around `centres` random directions (embeddings of real collections are clustered;
// uniform random vectors are the worst case for any approximate index and unlike them).
torch::Tensor clustered(int64_t n, int64_t dim, int64_t centres, uint64_t seed) {
  torch::manual_seed(seed);
  const auto c = torch::nn::functional::normalize(torch::randn({centres, dim}), torch::nn::functional::NormalizeFuncOptions().dim(1));
  const auto x = c.index_select(0, torch::randint(centres, {n}, torch::kLong)) + 0.25 * torch::randn({n, dim}) / std::sqrt(dim);
  return torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().dim(1)).contiguous();
}

std::vector<std::string> names(int64_t n, int64_t from = 0) {
  std::vector<std::string> out;
  for (int64_t i = from; i < from + n; ++i) out.push_back("img/" + std::to_string(i) + ".png");
  return out;
}

// Recall@10 of `index` for queries that are not rows of it (fresh points of the same clusters),
// measured here independently of AnnIndex's own figure.
double recall_of_new_queries(const clip::EmbeddingIndex& index, const torch::Tensor& queries) {
  int64_t found = 0;
  for (int64_t i = 0; i < queries.size(0); ++i) {
    std::set<int64_t> exact, approx;
    for (const auto& m : clip::search(index, queries[i], 10, {/*exact=*/true})) exact.insert(m.index);
    for (const auto& m : clip::search(index, queries[i], 10)) approx.insert(m.index);
    for (const auto r : approx) found += exact.count(r);
  }
  return static_cast<double>(found) / static_cast<double>(10 * queries.size(0));
}

}  // namespace

// Outside the anonymous namespace: gtest derives each test from it.
class AnnKinds : public ::testing::TestWithParam<std::string> {};

TEST_P(AnnKinds, ReachesItsRecallAndRoundTripsThroughTheFile) {
  const auto emb = clustered(20000, 32, 200, 1);
  clip::AnnOptions options;
  options.type = GetParam();
  std::ostringstream log;
  const auto ann = clip::AnnIndex::build(emb, options, &log);
  EXPECT_EQ(ann.size(), 20000);
  const double reported = ann.describe().at("recall_at_10").get<double>();
  EXPECT_GE(reported, 0.95) << log.str();
  EXPECT_NE(log.str().find("recall@10"), std::string::npos);

  const auto path = test_util::tmp_dir("ann_" + GetParam()) + "/index.bin";
  clip::write_index(path, emb, names(20000), {{"fingerprint", "abc"}}, &ann);
  const auto index = clip::read_index(path);
  ASSERT_TRUE(index.ann);
  EXPECT_EQ(index.ann->type(), GetParam());
  EXPECT_EQ(index.ann->describe(), ann.describe());
  EXPECT_TRUE(torch::equal(index.embeddings, emb));

  // Queries the index has never seen: recall close to the one measured at build time.
  const auto fresh = clustered(20200, 32, 200, 1).narrow(0, 20000, 200);  // same seed: same centres
  EXPECT_GE(recall_of_new_queries(index, fresh), 0.9);

  // Scores are the exact ones; the memory-mapped and the in-memory reads give the same answers.
  const auto in_memory = clip::read_index(path, /*for_append=*/true);
  for (int64_t i = 0; i < 20; ++i) {
    const auto a = clip::search(index, fresh[i], 10), b = clip::search(in_memory, fresh[i], 10);
    ASSERT_EQ(a.size(), b.size());
    for (size_t j = 0; j < a.size(); ++j) {
      EXPECT_EQ(a[j].index, b[j].index);
      EXPECT_FLOAT_EQ(a[j].score, torch::dot(emb[a[j].index], fresh[i]).item<float>());
    }
  }
  // A wider search finds at least as much; IVF searching every cell is exact.
  const double stored = recall_of_new_queries(index, fresh);
  auto wide_index = clip::read_index(path);
  const int64_t widest = GetParam() == "ivf" ? ann.describe().at("nlist").get<int64_t>() : 512;
  clip::configure_search(wide_index, false, GetParam() == "ivf" ? widest : 0, GetParam() == "hnsw" ? widest : 0);
  EXPECT_GE(recall_of_new_queries(wide_index, fresh), stored);
  if (GetParam() != "ivf") return;
  for (int64_t i = 0; i < 50; ++i) {
    const auto exact = clip::search(index, fresh[i], 10, {true});
    const auto wide = clip::search(wide_index, fresh[i], 10);
    ASSERT_EQ(exact.size(), wide.size());
    for (size_t j = 0; j < exact.size(); ++j) EXPECT_EQ(exact[j].index, wide[j].index) << "query " << i << " rank " << j;
  }
}

INSTANTIATE_TEST_SUITE_P(Faiss, AnnKinds, ::testing::Values("ivf", "hnsw"));

TEST(AnnIndex, AppendedRowsAreFoundAndRecallIsRemeasured) {
  const auto emb = clustered(6000, 16, 50, 2);
  clip::AnnOptions options;
  options.type = "ivf";
  options.nlist = 50;
  const auto first = emb.narrow(0, 0, 4000);
  const auto path = test_util::tmp_dir("ann_append") + "/index.bin";
  {
    const auto ann = clip::AnnIndex::build(first, options, nullptr);
    clip::write_index(path, first, names(4000), {}, &ann);
  }
  auto index = clip::read_index(path, /*for_append=*/true);
  index.ann->append(emb.narrow(0, 4000, 2000), emb, nullptr);
  EXPECT_EQ(index.ann->describe().at("nlist"), 50);  // the cells of the first build
  auto paths = index.paths;
  const auto more = names(2000, 4000);
  paths.insert(paths.end(), more.begin(), more.end());
  clip::write_index(path, emb, paths, {}, index.ann.get());
  const auto grown = clip::read_index(path);
  EXPECT_EQ(grown.ann->size(), 6000);
  EXPECT_GE(grown.ann->describe().at("recall_at_10").get<double>(), 0.95);
  for (const int64_t row : {4000, 4999, 5999}) {
    const auto best = clip::search(grown, emb[row], 1);
    ASSERT_EQ(best.size(), 1u);
    EXPECT_EQ(best[0].index, row);
    EXPECT_EQ(grown.paths[static_cast<size_t>(row)], "img/" + std::to_string(row) + ".png");
  }
}

TEST(AnnIndex, CorruptOrMismatchedFilesAndOptionsAreClearErrors) {
  const auto emb = clustered(500, 8, 10, 3);
  clip::AnnOptions options;
  options.type = "ivf";
  const auto ann = clip::AnnIndex::build(emb, options, nullptr);
  const auto dir = test_util::tmp_dir("ann_errors");
  const auto path = dir + "/index.bin";
  clip::write_index(path, emb, names(500), {}, &ann);
  const auto size = std::filesystem::file_size(path);

  // Cut inside the FAISS part: one line naming the file.
  std::filesystem::copy_file(path, dir + "/cut.bin");
  std::filesystem::resize_file(dir + "/cut.bin", size - 100);
  const auto msg = test_util::error_message([&] { clip::read_index(dir + "/cut.bin"); });
  EXPECT_EQ(msg.rfind(dir + "/cut.bin: ", 0), 0u) << msg;
  // The approximate part with more rows than the header: refused.
  EXPECT_THROW(clip::write_index(dir + "/bad.bin", emb.narrow(0, 0, 400), names(400), {}, &ann), Error);

  auto index = clip::read_index(path);
  EXPECT_NE(test_util::error_message([&] { clip::configure_search(index, false, 0, 64); }).find("--ef-search applies to HNSW"),
            std::string::npos);
  clip::configure_search(index, false, 4, 0);
  EXPECT_EQ(index.ann->search_param(), 4);
  options.type = "annoy";
  EXPECT_THROW(clip::AnnIndex::build(emb, options, nullptr), Error);
}

// DistilBERT-architecture text encoder: Hugging Face's parameter names and shapes for
// distilbert-base-uncased, agreement with a plain-PyTorch DistilBERT forward written from
// transformers' modeling_distilbert.py, padding invariance, HF-style init, and loading HF
// safetensors checkpoints (with the "distilbert." prefix and head keys).
#include "selfsup/core/error.h"
#include "selfsup/io/safetensors.h"
#include "selfsup/models/state_dict.h"
#include "selfsup/models/text_transformer.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using namespace selfsup;
using namespace selfsup::models;

using selfsup::test_util::contains;
using selfsup::test_util::error_message;
using selfsup::test_util::TempDir;

namespace {

// Small enough to be instant, with several heads and an uneven head size.
TextTransformerOptions small_options() {
  return TextTransformerOptions().vocab_size(40).max_position_embeddings(12).dim(24).n_layers(2).n_heads(3)
      .hidden_dim(48);
}

// Larger random weights than the N(0, 0.02) init, and LayerNorm affines away from 1/0, so a wrong
// operation order or a missed parameter changes the output visibly.
void randomize(torch::nn::Module& m) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.named_parameters()) {
    const auto& name = p.key();
    const bool ln_weight =
        name.find("LayerNorm.weight") != std::string::npos || name.find("layer_norm.weight") != std::string::npos;
    if (ln_weight) {
      p.value().uniform_(0.5, 1.5);
    } else {
      p.value().normal_(0.0, 0.3);
    }
  }
}


}  // namespace

TEST(TextTransformer, DefaultOptionsHaveDistilBertBaseNamesAndShapes) {
  TextTransformer model;  // distilbert-base-uncased's config
  const int64_t v = 30522, p = 512, d = 768, h = 3072;
  std::map<std::string, std::vector<int64_t>> expected{
      {"embeddings.word_embeddings.weight", {v, d}},
      {"embeddings.position_embeddings.weight", {p, d}},
      {"embeddings.LayerNorm.weight", {d}},
      {"embeddings.LayerNorm.bias", {d}},
  };
  for (int i = 0; i < 6; ++i) {
    const std::string l = "transformer.layer." + std::to_string(i) + ".";
    for (const char* lin : {"q_lin", "k_lin", "v_lin", "out_lin"}) {
      expected[l + "attention." + lin + ".weight"] = {d, d};
      expected[l + "attention." + lin + ".bias"] = {d};
    }
    for (const char* ln : {"sa_layer_norm", "output_layer_norm"}) {
      expected[l + ln + ".weight"] = {d};
      expected[l + ln + ".bias"] = {d};
    }
    expected[l + "ffn.lin1.weight"] = {h, d};
    expected[l + "ffn.lin1.bias"] = {h};
    expected[l + "ffn.lin2.weight"] = {d, h};
    expected[l + "ffn.lin2.bias"] = {d};
  }
  std::map<std::string, std::vector<int64_t>> actual;
  int64_t count = 0;
  for (const auto& [name, t] : state_dict(*model)) {
    actual[name] = t.sizes().vec();
    count += t.numel();
  }
  EXPECT_EQ(actual, expected);
  EXPECT_EQ(count, 66362880);  // DistilBertModel.from_pretrained('distilbert-base-uncased') parameter count
}

TEST(TextTransformer, TinyPresetAndInvalidOptions) {
  const auto o = TextTransformerOptions::tiny(1000);
  EXPECT_EQ(o.vocab_size(), 1000);
  EXPECT_EQ(o.dim(), 128);
  EXPECT_EQ(o.n_layers(), 2);
  EXPECT_EQ(o.n_heads(), 2);
  EXPECT_EQ(o.hidden_dim(), 512);
  EXPECT_EQ(o.max_position_embeddings(), 64);
  TextTransformer model(o);
  model->eval();
  const auto ids = torch::randint(0, 1000, {3, 10}, torch::kLong);
  EXPECT_EQ(model->forward(ids).sizes(), (std::vector<int64_t>{3, 10, 128}));
  EXPECT_EQ(model->cls(ids).sizes(), (std::vector<int64_t>{3, 128}));
  EXPECT_TRUE(torch::equal(model->cls(ids), model->forward(ids).select(1, 0)));
  // int32 ids are accepted too (tokenizers may produce them).
  EXPECT_TRUE(torch::allclose(model->forward(ids.to(torch::kInt)), model->forward(ids)));

  const auto bad_heads = error_message([] { TextTransformer(TextTransformerOptions::tiny(50).n_heads(3)); });
  EXPECT_NE(bad_heads.find("multiple of n_heads"), std::string::npos) << bad_heads;
  EXPECT_NE(error_message([&] { model->forward(torch::zeros({1, 65}, torch::kLong)); }).find("sequence length 65"),
            std::string::npos);
  EXPECT_NE(error_message([&] { model->forward(torch::full({1, 4}, 1000, torch::kLong)); }).find("token id 1000"),
            std::string::npos);
  EXPECT_NE(error_message([&] { model->forward(ids, torch::ones({3, 9})); }).find("does not match"), std::string::npos);
  EXPECT_NE(error_message([&] { model->forward(torch::zeros({4}, torch::kLong)); }).find("B x L"), std::string::npos);
}

TEST(TextTransformer, InitFollowsHuggingFace) {
  torch::manual_seed(0);
  TextTransformer model(TextTransformerOptions::tiny());
  const auto& emb = model->embeddings->word_embeddings->weight;
  EXPECT_NEAR(emb.slice(0, 1).std().item<double>(), 0.02, 0.0005);
  EXPECT_EQ(emb[0].abs().max().item<double>(), 0.0);  // [PAD] row
  for (const auto& [name, t] : state_dict(*model)) {
    if (name.find("layer_norm.weight") != std::string::npos || name.find("LayerNorm.weight") != std::string::npos)
      EXPECT_TRUE(torch::equal(t, torch::ones_like(t))) << name;
    else if (name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0)
      EXPECT_TRUE(torch::equal(t, torch::zeros_like(t))) << name;
    else
      EXPECT_NEAR(t.std().item<double>(), 0.02, 0.004) << name;
  }
  // The padding row gets no gradient (nn.Embedding's padding_idx), as in DistilBERT.
  model->forward(torch::tensor({{5, 0, 7}}, torch::kLong)).pow(2).sum().backward();
  EXPECT_EQ(emb.grad()[0].abs().max().item<double>(), 0.0);
  EXPECT_GT(emb.grad()[5].abs().max().item<double>(), 0.0);
}

TEST(TextTransformer, DropoutOnlyInTraining) {
  TextTransformer model(small_options().dropout(0.5).attention_dropout(0.5));
  const auto ids = torch::randint(0, 40, {2, 6}, torch::kLong);
  model->train();
  EXPECT_FALSE(torch::allclose(model->forward(ids), model->forward(ids)));
  model->eval();
  EXPECT_TRUE(torch::equal(model->forward(ids), model->forward(ids)));
}

TEST(TextTransformer, PaddingDoesNotChangeRealPositions) {
  torch::manual_seed(1);
  TextTransformer model(small_options());
  randomize(*model);
  model->eval();
  torch::NoGradGuard no_grad;
  const auto ids = torch::randint(1, 40, {3, 8}, torch::kLong);
  const auto mask = torch::tensor({{1, 1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 0, 0, 0, 0, 0}, {1, 1, 1, 1, 1, 0, 0, 0}},
                                  torch::kLong);
  const auto real = mask.to(torch::kBool).unsqueeze(-1);  // B x L x 1
  const auto other_ids = torch::where(mask.to(torch::kBool), ids, torch::randint(1, 40, {3, 8}, torch::kLong));
  ASSERT_FALSE(torch::equal(ids, other_ids));
  const auto a = model->forward(ids, mask), b = model->forward(other_ids, mask.to(torch::kBool));
  EXPECT_LT(((a - b) * real).abs().max().item<double>(), 1e-6);
  // Padding positions themselves do differ: the mask hides keys, not queries.
  EXPECT_GT(((a - b) * real.logical_not()).abs().max().item<double>(), 0.0);
  // A padded sequence equals the same sequence encoded alone, at its real positions.
  const auto alone = model->forward(ids.slice(0, 1, 2).slice(1, 0, 3));  // 1 x 3 x D
  EXPECT_TRUE(torch::allclose(alone[0], a[1].slice(0, 0, 3), 1e-5, 1e-5));
  // Without the mask the padding tokens would leak in.
  EXPECT_FALSE(torch::allclose(model->forward(ids)[1].slice(0, 0, 3), a[1].slice(0, 0, 3), 1e-5, 1e-5));
}

TEST(TextTransformer, MatchesPlainPyTorchDistilBert) {
  if (!test_util::python_torch_available()) GTEST_SKIP() << "python3 with torch not available";
  TempDir dir;
  torch::manual_seed(2);
  TextTransformer model(small_options());
  randomize(*model);
  model->eval();
  io::write_safetensors(dir / "weights.safetensors", state_dict(*model), {{"n_heads", "3"}, {"n_layers", "2"}});
  const auto ids = torch::randint(0, 40, {4, 9}, torch::kLong);
  // Full, padded, a single real token, and all padding (uniform attention in HF, no NaN).
  const auto mask = torch::tensor({{1, 1, 1, 1, 1, 1, 1, 1, 1},
                                   {1, 1, 1, 1, 1, 1, 0, 0, 0},
                                   {1, 0, 0, 0, 0, 0, 0, 0, 0},
                                   {0, 0, 0, 0, 0, 0, 0, 0, 0}},
                                  torch::kLong);
  io::write_safetensors(dir / "inputs.safetensors", {{"ids", ids}, {"mask", mask}});
  std::ofstream(dir / "reference.py") << R"PY(
# DistilBERT's forward as transformers' modeling_distilbert.py computes it, in plain PyTorch.
import json, math, struct, sys, torch
import torch.nn.functional as F
DT = {'F32': torch.float32, 'I64': torch.int64}

def load(path):
    raw = open(path, 'rb').read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop('__metadata__', {})
    buf = raw[8 + n:]
    out = {}
    for name, e in header.items():
        b, end = e['data_offsets']
        out[name] = torch.frombuffer(bytearray(buf[b:end]), dtype=DT[e['dtype']]).reshape(e['shape'])
    return out, meta

d = sys.argv[1]
w, meta = load(d + '/weights.safetensors')
inp, _ = load(d + '/inputs.safetensors')
H, layers = int(meta['n_heads']), int(meta['n_layers'])
ids, mask = inp['ids'], inp['mask']
B, L = ids.shape
lin = lambda x, p: F.linear(x, w[p + '.weight'], w[p + '.bias'])
ln = lambda x, p: F.layer_norm(x, (x.shape[-1],), w[p + '.weight'], w[p + '.bias'], eps=1e-12)

with torch.no_grad():
    x = w['embeddings.word_embeddings.weight'][ids] + w['embeddings.position_embeddings.weight'][torch.arange(L)]
    x = ln(x, 'embeddings.LayerNorm')
    D = x.shape[-1]
    hd = D // H
    for i in range(layers):
        p = 'transformer.layer.%d.' % i
        shape = lambda t: t.view(B, L, H, hd).transpose(1, 2)
        q = shape(lin(x, p + 'attention.q_lin')) / math.sqrt(hd)
        k = shape(lin(x, p + 'attention.k_lin'))
        v = shape(lin(x, p + 'attention.v_lin'))
        scores = q @ k.transpose(2, 3)
        scores = scores.masked_fill((mask == 0).view(B, 1, 1, L), torch.finfo(scores.dtype).min)
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, L, D)
        x = ln(lin(ctx, p + 'attention.out_lin') + x, p + 'sa_layer_norm')
        x = ln(lin(F.gelu(lin(x, p + 'ffn.lin1')), p + 'ffn.lin2') + x, p + 'output_layer_norm')

raw = x.contiguous().numpy().tobytes()
h = json.dumps({'hidden': {'dtype': 'F32', 'shape': list(x.shape), 'data_offsets': [0, len(raw)]}}).encode()
with open(d + '/out.safetensors', 'wb') as f:
    f.write(struct.pack('<Q', len(h)) + h + raw)
)PY";
  ASSERT_EQ(std::system(("/usr/bin/python3 " + (dir / "reference.py") + " " + dir.path.string()).c_str()), 0);
  const auto expected = io::read_safetensors(dir / "out.safetensors").tensors.at("hidden");
  torch::NoGradGuard no_grad;
  const auto actual = model->forward(ids, mask);
  ASSERT_EQ(actual.sizes(), expected.sizes());
  EXPECT_FALSE(actual.isnan().any().item<bool>());
  EXPECT_LT((actual - expected).abs().max().item<double>(), 1e-5);
  EXPECT_LT((model->cls(ids, mask) - expected.select(1, 0)).abs().max().item<double>(), 1e-5);
}

TEST(TextTransformer, LoadDistilBertWithPrefixAndHeadKeys) {
  TempDir dir;
  torch::manual_seed(3);
  TextTransformer source(small_options());
  randomize(*source);
  // A DistilBertForMaskedLM-style checkpoint: encoder under "distilbert.", MLM head keys without.
  StateDict ckpt;
  for (const auto& [name, t] : state_dict(*source)) ckpt["distilbert." + name] = t;
  ckpt["distilbert.embeddings.position_ids"] = torch::arange(12, torch::kLong).unsqueeze(0);
  ckpt["vocab_transform.weight"] = torch::randn({24, 24});
  ckpt["vocab_layer_norm.weight"] = torch::ones({24});
  ckpt["vocab_projector.weight"] = torch::randn({40, 24});
  ckpt["vocab_projector.bias"] = torch::zeros({40});
  io::write_safetensors(dir / "mlm.safetensors", ckpt);

  TextTransformer target(small_options());
  ASSERT_FALSE(torch::equal(target->embeddings->word_embeddings->weight, source->embeddings->word_embeddings->weight));
  const auto skipped = load_distilbert(target, dir / "mlm.safetensors");
  EXPECT_EQ(skipped, (std::vector<std::string>{"distilbert.embeddings.position_ids", "vocab_layer_norm.weight",
                                               "vocab_projector.bias", "vocab_projector.weight",
                                               "vocab_transform.weight"}));
  const auto want = state_dict(*source), got = state_dict(*target);
  for (const auto& [name, t] : want) EXPECT_TRUE(torch::equal(got.at(name), t)) << name;

  // A bare DistilBertModel checkpoint (no prefix) loads the same way, with nothing skipped.
  io::write_safetensors(dir / "base.safetensors", state_dict(*source));
  TextTransformer bare(small_options());
  EXPECT_TRUE(load_distilbert(bare, dir / "base.safetensors").empty());
  const auto ids = torch::randint(0, 40, {2, 5}, torch::kLong);
  source->eval();
  bare->eval();
  EXPECT_TRUE(torch::equal(source->forward(ids), bare->forward(ids)));
}

TEST(TextTransformer, LoadDistilBertErrorsNameTheKey) {
  TempDir dir;
  TextTransformer model(small_options());
  StateDict ckpt;
  for (const auto& [name, t] : state_dict(*model)) ckpt["distilbert." + name] = t.clone();

  auto missing = ckpt;
  missing.erase("distilbert.transformer.layer.1.ffn.lin2.bias");
  io::write_safetensors(dir / "missing.safetensors", missing);
  auto msg = error_message([&] { load_distilbert(model, dir / "missing.safetensors"); });
  EXPECT_NE(msg.find("missing"), std::string::npos) << msg;
  EXPECT_NE(msg.find("transformer.layer.1.ffn.lin2.bias"), std::string::npos) << msg;
  EXPECT_NE(msg.find(dir / "missing.safetensors"), std::string::npos) << msg;

  TextTransformer bigger_vocab(small_options().vocab_size(41));
  io::write_safetensors(dir / "full.safetensors", ckpt);
  msg = error_message([&] { load_distilbert(bigger_vocab, dir / "full.safetensors"); });
  EXPECT_NE(msg.find("embeddings.word_embeddings.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[40, 24]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[41, 24]"), std::string::npos) << msg;

  TextTransformer one_layer(small_options().n_layers(1));
  msg = error_message([&] { load_distilbert(one_layer, dir / "full.safetensors"); });
  EXPECT_NE(msg.find("unexpected"), std::string::npos) << msg;
  EXPECT_NE(msg.find("transformer.layer.1."), std::string::npos) << msg;

  auto both = ckpt;
  both["embeddings.LayerNorm.bias"] = both.at("distilbert.embeddings.LayerNorm.bias");
  io::write_safetensors(dir / "both.safetensors", both);
  msg = error_message([&] { load_distilbert(model, dir / "both.safetensors"); });
  EXPECT_NE(msg.find("both with and without"), std::string::npos) << msg;

  msg = error_message([&] { load_distilbert(model, dir / "absent.safetensors"); });
  EXPECT_NE(msg.find("cannot open"), std::string::npos) << msg;
}

// DistilBERT-architecture text encoder (see text_transformer.h). The forward pass mirrors
// transformers' modeling_distilbert.py operation by operation (q scaled before q·k, masked scores
// filled with the dtype's lowest value, post-norm residuals) so that outputs agree with Python to
// float rounding, not just in distribution.
#include "selfsup/models/text_transformer.h"

#include "selfsup/core/error.h"
#include "selfsup/io/safetensors.h"
#include "selfsup/models/state_dict.h"

#include <cmath>
#include <limits>

namespace selfsup::models {

namespace nn = torch::nn;

namespace {

constexpr double kLayerNormEps = 1e-12;
constexpr double kInitStd = 0.02;

// HF fills masked scores with torch.finfo(dtype).min rather than -inf: a row whose keys are all
// padding then gets uniform weights instead of NaN, and no NaN can leak into the gradients.
double lowest_value(torch::ScalarType type) {
  switch (type) {
    case torch::kDouble: return std::numeric_limits<double>::lowest();
    case torch::kHalf: return -65504.0;
    case torch::kBFloat16: return -3.3895313892515355e38;
    default: return std::numeric_limits<float>::lowest();
  }
}

// Keys of DistilBERT task heads and buffers that a text encoder has no use for.
bool is_skipped_key(const std::string& key) {
  static const char* const kHeads[] = {"vocab_transform.", "vocab_layer_norm.", "vocab_projector.",
                                       "pre_classifier.",  "classifier.",       "qa_outputs."};
  for (const char* prefix : kHeads)
    if (key.rfind(prefix, 0) == 0) return true;
  return key == "embeddings.position_ids";
}

}  // namespace

TextEmbeddingsImpl::TextEmbeddingsImpl(const TextTransformerOptions& o) {
  auto word = nn::EmbeddingOptions(o.vocab_size(), o.dim());
  if (o.pad_token_id() >= 0) word.padding_idx(o.pad_token_id());
  word_embeddings = register_module("word_embeddings", nn::Embedding(word));
  position_embeddings = register_module("position_embeddings", nn::Embedding(o.max_position_embeddings(), o.dim()));
  LayerNorm = register_module("LayerNorm", nn::LayerNorm(nn::LayerNormOptions({o.dim()}).eps(kLayerNormEps)));
  dropout = register_module("dropout", nn::Dropout(o.dropout()));
}

torch::Tensor TextEmbeddingsImpl::forward(const torch::Tensor& ids) {
  const auto positions = torch::arange(ids.size(1), ids.options().dtype(torch::kLong));  // L
  return dropout(LayerNorm(word_embeddings(ids) + position_embeddings(positions)));   // B x L x D
}

TextAttentionImpl::TextAttentionImpl(const TextTransformerOptions& o) : n_heads(o.n_heads()) {
  q_lin = register_module("q_lin", nn::Linear(o.dim(), o.dim()));
  k_lin = register_module("k_lin", nn::Linear(o.dim(), o.dim()));
  v_lin = register_module("v_lin", nn::Linear(o.dim(), o.dim()));
  out_lin = register_module("out_lin", nn::Linear(o.dim(), o.dim()));
  dropout = register_module("dropout", nn::Dropout(o.attention_dropout()));
}

torch::Tensor TextAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& keep, torch::Tensor* probs) {
  const int64_t b = x.size(0), l = x.size(1), d = x.size(2), hd = d / n_heads;
  const auto heads = [&](const torch::Tensor& t) { return t.view({b, l, n_heads, hd}).transpose(1, 2); };
  const auto q = heads(q_lin(x)) / std::sqrt(static_cast<double>(hd));  // B x H x L x hd
  const auto k = heads(k_lin(x)), v = heads(v_lin(x));
  auto scores = torch::matmul(q, k.transpose(2, 3));  // B x H x L x L (query x key)
  if (keep.defined())
    scores = scores.masked_fill(keep.logical_not().view({b, 1, 1, l}), lowest_value(scores.scalar_type()));
  auto weights = torch::softmax(scores, -1);
  if (probs) *probs = weights.detach();
  const auto context = torch::matmul(dropout(weights), v).transpose(1, 2).reshape({b, l, d});  // B x L x D
  return out_lin(context);
}

TextFeedForwardImpl::TextFeedForwardImpl(const TextTransformerOptions& o) {
  lin1 = register_module("lin1", nn::Linear(o.dim(), o.hidden_dim()));
  lin2 = register_module("lin2", nn::Linear(o.hidden_dim(), o.dim()));
  dropout = register_module("dropout", nn::Dropout(o.dropout()));
}

torch::Tensor TextFeedForwardImpl::forward(const torch::Tensor& x) {
  return dropout(lin2(torch::gelu(lin1(x))));  // exact erf GELU, as DistilBERT's "gelu"
}

TextBlockImpl::TextBlockImpl(const TextTransformerOptions& o) {
  const auto ln = nn::LayerNormOptions({o.dim()}).eps(kLayerNormEps);
  attention = register_module("attention", TextAttention(o));
  sa_layer_norm = register_module("sa_layer_norm", nn::LayerNorm(ln));
  ffn = register_module("ffn", TextFeedForward(o));
  output_layer_norm = register_module("output_layer_norm", nn::LayerNorm(ln));
}

torch::Tensor TextBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& keep, torch::Tensor* probs) {
  const auto y = sa_layer_norm(attention->forward(x, keep, probs) + x);
  return output_layer_norm(ffn->forward(y) + y);
}

TextTransformerImpl::TextTransformerImpl(const TextTransformerOptions& options_) : options(options_) {
  const auto& o = options;
  const auto positive = [](const char* name, int64_t v) {
    if (v < 1) throw Error(std::string("text_transformer.") + name + ": must be >= 1, got " + std::to_string(v));
  };
  positive("vocab_size", o.vocab_size());
  positive("max_position_embeddings", o.max_position_embeddings());
  positive("dim", o.dim());
  positive("n_layers", o.n_layers());
  positive("n_heads", o.n_heads());
  positive("hidden_dim", o.hidden_dim());
  if (o.dim() % o.n_heads() != 0)
    throw Error("text_transformer.dim: must be a multiple of n_heads (" + std::to_string(o.n_heads()) + "), got " +
                std::to_string(o.dim()));
  if (o.pad_token_id() >= o.vocab_size())
    throw Error("text_transformer.pad_token_id: " + std::to_string(o.pad_token_id()) + " is outside the vocabulary (" +
                std::to_string(o.vocab_size()) + ")");
  for (const auto& [name, p] : {std::pair<const char*, double>{"dropout", o.dropout()},
                                {"attention_dropout", o.attention_dropout()}})
    if (!(p >= 0.0 && p < 1.0))
      throw Error(std::string("text_transformer.") + name + ": must be in [0, 1), got " + std::to_string(p));

  embeddings = register_module("embeddings", TextEmbeddings(o));
  // HF nests the blocks as transformer.layer.i; an empty holder module reproduces the names.
  auto transformer = std::make_shared<nn::Module>();
  layers = transformer->register_module("layer", nn::ModuleList());
  for (int64_t i = 0; i < o.n_layers(); ++i) layers->push_back(TextBlock(o));
  register_module("transformer", transformer);

  torch::NoGradGuard no_grad;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* linear = m->as<nn::Linear>()) {
      linear->weight.normal_(0.0, kInitStd);
      linear->bias.zero_();
    } else if (auto* embedding = m->as<nn::Embedding>()) {
      embedding->weight.normal_(0.0, kInitStd);
      const auto& pad = embedding->options.padding_idx();
      if (pad) embedding->weight[*pad].zero_();
    }
  }
}

torch::Tensor TextTransformerImpl::forward(const torch::Tensor& ids_in, const torch::Tensor& mask) {
  if (ids_in.dim() != 2 || !at::isIntegralType(ids_in.scalar_type(), /*includeBool=*/false))
    throw Error("text_transformer: expected B x L integer token ids, got " +
                std::string(c10::toString(ids_in.scalar_type())) + " of shape " + c10::str(ids_in.sizes()));
  const int64_t l = ids_in.size(1);
  if (l < 1 || l > options.max_position_embeddings())
    throw Error("text_transformer: sequence length " + std::to_string(l) + " outside [1, max_position_embeddings = " +
                std::to_string(options.max_position_embeddings()) + "]");
  const auto ids = ids_in.to(torch::kLong);
  if (ids.numel() > 0) {
    const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
    if (lo < 0 || hi >= options.vocab_size())
      throw Error("text_transformer: token id " + std::to_string(lo < 0 ? lo : hi) + " outside the vocabulary [0, " +
                  std::to_string(options.vocab_size()) + ")");
  }
  torch::Tensor keep;
  if (mask.defined()) {
    if (mask.sizes() != ids.sizes())
      throw Error("text_transformer: attention mask of shape " + c10::str(mask.sizes()) + " does not match ids " +
                  c10::str(ids.sizes()));
    keep = mask.to(ids.device(), torch::kBool);
  }
  auto x = embeddings(ids);  // B x L x D
  for (const auto& layer : *layers) x = layer->as<TextBlock>()->forward(x, keep);
  return x;
}

torch::Tensor TextTransformerImpl::cls(const torch::Tensor& ids, const torch::Tensor& mask) {
  return forward(ids, mask).select(1, 0);  // B x D
}

std::vector<std::string> load_distilbert(TextTransformer& model, const std::string& path) {
  const auto file = io::read_safetensors(path);
  StateDict encoder;
  std::vector<std::string> skipped;
  const std::string prefix = "distilbert.";
  for (const auto& [key, tensor] : file.tensors) {
    const std::string name = key.rfind(prefix, 0) == 0 ? key.substr(prefix.size()) : key;
    if (is_skipped_key(name)) {
      skipped.push_back(key);
      continue;
    }
    if (!encoder.emplace(name, tensor).second)
      throw Error(path + ": key '" + name + "' appears both with and without the \"distilbert.\" prefix");
  }
  load_state_dict(*model, encoder, /*strict=*/true, path);
  return skipped;
}

}  // namespace selfsup::models

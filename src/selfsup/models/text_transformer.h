// CLIP's text encoder: a Transformer with DistilBERT's architecture (Sanh et al. 2019) and Hugging
// Face's DistilBertModel parameter names, so `distilbert-base-uncased` weights load and trained
// weights go back to Python (io::write_safetensors(path, models::state_dict(*model))):
//   embeddings.word_embeddings.weight [vocab, dim]   embeddings.position_embeddings.weight [max_pos, dim]
//   embeddings.LayerNorm.{weight,bias}
//   transformer.layer.i.attention.{q_lin,k_lin,v_lin,out_lin}.{weight,bias}
//   transformer.layer.i.sa_layer_norm.{weight,bias}
//   transformer.layer.i.ffn.lin1 [hidden_dim, dim], ffn.lin2 [dim, hidden_dim] .{weight,bias}
//   transformer.layer.i.output_layer_norm.{weight,bias}
// Post-norm blocks exactly as DistilBERT: x = LN(x + attn(x)); x = LN(x + lin2(gelu(lin1(x)))),
// exact erf GELU, LayerNorm eps 1e-12, learned absolute positions, padding keys masked out.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace selfsup::models {

// Defaults are distilbert-base-uncased's published config.
struct TextTransformerOptions {
  // The small encoder CLIP recipes train from scratch: dim 128, 2 layers, 2 heads, feed-forward
  // 512, 64 positions (~0.4M parameters besides the vocab_size x 128 word embeddings).
  static TextTransformerOptions tiny(int64_t vocab_size = 30522) {
    return TextTransformerOptions()
        .vocab_size(vocab_size)
        .max_position_embeddings(64)
        .dim(128)
        .n_layers(2)
        .n_heads(2)
        .hidden_dim(512);
  }

  TORCH_ARG(int64_t, vocab_size) = 30522;
  TORCH_ARG(int64_t, max_position_embeddings) = 512;  // longest sequence the encoder accepts
  TORCH_ARG(int64_t, dim) = 768;
  TORCH_ARG(int64_t, n_layers) = 6;
  TORCH_ARG(int64_t, n_heads) = 12;
  TORCH_ARG(int64_t, hidden_dim) = 3072;  // feed-forward width
  TORCH_ARG(double, dropout) = 0.1;       // after the embeddings and after each feed-forward
  TORCH_ARG(double, attention_dropout) = 0.1;  // on the attention weights
  // Row of word_embeddings zeroed at init and given no gradient (nn.Embedding's padding_idx), as
  // DistilBERT does for [PAD] = 0; -1 for none (e.g. a SentencePiece vocabulary whose id 0 is <unk>).
  TORCH_ARG(int64_t, pad_token_id) = 0;
};

// word + position embeddings, LayerNorm, dropout (HF's Embeddings).
class TextEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit TextEmbeddingsImpl(const TextTransformerOptions& options);
  torch::Tensor forward(const torch::Tensor& ids);  // B x L int64 -> B x L x D
  torch::nn::Embedding word_embeddings{nullptr}, position_embeddings{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};  // NOLINT: HF's (BERT's) capitalised name
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(TextEmbeddings);

// Multi-head self-attention with separate q/k/v projections (HF's MultiHeadSelfAttention).
class TextAttentionImpl : public torch::nn::Module {
 public:
  explicit TextAttentionImpl(const TextTransformerOptions& options);
  // x: B x L x D; keep: B x L bool (true = real token) or undefined. B x L x D.
  // With `probs`, also stores the B x heads x L x L attention weights (before dropout).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& keep, torch::Tensor* probs = nullptr);
  int64_t n_heads;
  torch::nn::Linear q_lin{nullptr}, k_lin{nullptr}, v_lin{nullptr}, out_lin{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(TextAttention);

// lin2(gelu(lin1(x))) then dropout (HF's FFN).
class TextFeedForwardImpl : public torch::nn::Module {
 public:
  explicit TextFeedForwardImpl(const TextTransformerOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear lin1{nullptr}, lin2{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(TextFeedForward);

// One post-norm block (HF's TransformerBlock).
class TextBlockImpl : public torch::nn::Module {
 public:
  explicit TextBlockImpl(const TextTransformerOptions& options);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& keep, torch::Tensor* probs = nullptr);
  TextAttention attention{nullptr};
  torch::nn::LayerNorm sa_layer_norm{nullptr};
  TextFeedForward ffn{nullptr};
  torch::nn::LayerNorm output_layer_norm{nullptr};
};
TORCH_MODULE(TextBlock);

class TextTransformerImpl : public torch::nn::Module {
 public:
  // Weights initialised like HF: Linear and Embedding ~ N(0, 0.02) (padding row zeroed), biases 0,
  // LayerNorm 1/0.
  explicit TextTransformerImpl(const TextTransformerOptions& options = {});

  // ids: B x L integer token ids (L <= max_position_embeddings); mask: B x L, nonzero/true at real
  // tokens, 0/false at padding (undefined: no padding). Returns B x L x dim hidden states; padding
  // keys get no attention, so real positions do not depend on what the padding holds.
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& mask = {});

  // The first token's hidden state, B x dim: CLS pooling as CLIP's text side uses it.
  torch::Tensor cls(const torch::Tensor& ids, const torch::Tensor& mask = {});

  const TextTransformerOptions options;
  TextEmbeddings embeddings{nullptr};
  torch::nn::ModuleList layers{nullptr};  // registered as transformer.layer
};
TORCH_MODULE(TextTransformer);

// Loads Hugging Face DistilBERT weights from a .safetensors file (DistilBertModel, or a task model
// such as DistilBertForMaskedLM whose encoder keys carry a "distilbert." prefix). Head weights
// (vocab_transform, vocab_layer_norm, vocab_projector, pre_classifier, classifier, qa_outputs) and
// the embeddings.position_ids buffer are skipped; their original key names are returned so the
// caller can report them. Everything else loads strictly: a missing or unexpected key or a shape
// mismatch throws selfsup::Error naming the file, the key and the shapes.
std::vector<std::string> load_distilbert(TextTransformer& model, const std::string& path);

}  // namespace selfsup::models

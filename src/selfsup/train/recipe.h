// The recipe: everything one experiment needs, as typed and validated structs read from YAML
// (recipes/*.yaml) plus key=value overrides. The resolved recipe is saved in the run folder and
// inside every checkpoint, so a checkpoint alone can rebuild its model.
#pragma once

#include <string>
#include <vector>

#include "selfsup/augment/pipeline.h"
#include "selfsup/data/source.h"
#include "selfsup/models/registry.h"
#include "selfsup/models/unet.h"
#include "selfsup/train/optimizer.h"
#include "selfsup/train/schedule.h"

namespace selfsup {


struct HeadConfig {
  int64_t layers = 2;  // 1 = a single Linear (MoCo v1)
  int64_t hidden_dim = 512;
  int64_t out_dim = 128;
  std::string norm = "none";  // batch | layer | group_ws | none, after each hidden Linear
  bool last_bn = false;       // BatchNorm without affine after the last Linear
  void visit(config::Visitor& v);
};

struct MocoConfig {
  int64_t queue_size = 4096;
  double temperature = 0.2;
  double momentum = 0.99;
  double momentum_final = 0.99;
  bool symmetric = false;
  bool shuffle_bn = true;
  int64_t bn_splits = 8;
  void visit(config::Visitor& v);
};

struct MocoV3Config {
  double temperature = 0.2;
  double momentum = 0.99;
  double momentum_final = 1.0;
  void visit(config::Visitor& v);
};

struct DinoConfig {
  int64_t out_dim = 4096;  // K prototypes
  int64_t hidden_dim = 2048;
  int64_t bottleneck_dim = 256;
  int64_t head_layers = 3;
  bool head_batch_norm = false;
  bool norm_last_layer = true;
  int64_t freeze_last_layer_epochs = 1;
  double student_temperature = 0.1;
  double teacher_temperature_start = 0.04;
  double teacher_temperature = 0.04;
  int64_t teacher_warmup_epochs = 0;
  double center_momentum = 0.9;
  double momentum = 0.996;
  double momentum_final = 1.0;
  void visit(config::Visitor& v);
};

struct SwavConfig {
  int64_t prototypes = 3000;  // K
  double temperature = 0.1;
  double epsilon = 0.05;
  int64_t sinkhorn_iterations = 3;
  int64_t queue_size = 0;  // embeddings kept per global crop for the assignments (0 = no queue)
  int64_t queue_start_epoch = 15;
  int64_t freeze_prototypes_steps = 5005;
  void visit(config::Visitor& v);
};

struct CpcConfig {
  int64_t patch_size = 8;     // pixels; the backbone encodes each patch
  int64_t patch_stride = 4;   // patches overlap by patch_size - patch_stride
  std::string context = "gru";  // gru | conv (masked: each row sees only the rows above)
  int64_t context_layers = 3;   // conv context: causal layers
  int64_t predict_steps = 3;    // predict the patches 1..k rows below
  double temperature = 0.1;
  void visit(config::Visitor& v);
};

struct CmcConfig {
  std::string color_space = "lab";  // lab | rgb: what the channel groups index
  std::vector<std::string> channel_groups{"0", "1,2"};  // one view per entry: its channels (L | ab)
  double temperature = 0.07;
  void visit(config::Visitor& v);
};

struct InstDiscConfig {
  int64_t negatives = 4096;  // NCE noise samples from the bank; 0 = full non-parametric softmax
  double temperature = 0.07;
  double bank_momentum = 0.5;
  double proximal = 0;
  double z_momentum = 0;  // 0: NCE's Z fixed after the first batch; > 0: moving average
  void visit(config::Visitor& v);
};

struct InvaSpreadConfig {
  double temperature = 0.1;
  void visit(config::Visitor& v);
};

struct SimClrConfig {
  double temperature = 0.2;
  int64_t queue_size = 0;  // > 0: SimCLR v2's momentum encoder with a queue of its keys
  double momentum = 0.99;
  int64_t eval_head_layers = 0;  // SimCLR v2: evaluate/fine-tune from this many projector layers
  void visit(config::Visitor& v);
};

struct ByolConfig {
  double momentum = 0.99;
  double momentum_final = 1.0;
  void visit(config::Visitor& v);
};

struct SimSiamConfig {
  bool fix_predictor_lr = true;
  void visit(config::Visitor& v);
};

struct BarlowConfig {
  double lambda = 0.0051;
  double scale_loss = 1.0;
  void visit(config::Visitor& v);
};

// The values of method.name, for messages and docs.
inline constexpr const char* kMethodNames =
    "moco, moco_v3, dino, swav, cpc, cmc, instdisc, invaspread, simclr, byol, simsiam, barlow_twins";

struct MethodConfig {
  std::string name = "moco";
  HeadConfig projector;
  HeadConfig predictor;  // BYOL, SimSiam, MoCo v3
  MocoConfig moco;
  MocoV3Config moco_v3;
  DinoConfig dino;
  SwavConfig swav;
  CpcConfig cpc;
  CmcConfig cmc;
  InstDiscConfig instdisc;
  InvaSpreadConfig invaspread;
  SimClrConfig simclr;
  ByolConfig byol;
  SimSiamConfig simsiam;
  BarlowConfig barlow;
  void visit(config::Visitor& v);
};

struct ClipTextConfig {
  std::string tokenizer = "sentencepiece";  // sentencepiece | wordpiece
  std::string vocab;  // wordpiece: BERT vocab.txt (required); sentencepiece: empty = trained on the captions
  int64_t vocab_size = 2000;  // sentencepiece vocabulary trained from the training captions
  int64_t max_length = 32;    // tokens per caption, [CLS] and [SEP] included
  int64_t dim = 128;          // DistilBERT-base: 768 / 6 layers / 12 heads / 3072 / 512 positions
  int64_t layers = 2;
  int64_t heads = 4;
  int64_t hidden_dim = 512;
  int64_t max_positions = 64;
  double dropout = 0.1;
  std::string pretrained;  // DistilBERT weights (.safetensors) to start from
  double lr_scale = 1.0;   // the text encoder's lr relative to train.optimizer.lr
  void visit(config::Visitor& v);
};

struct ClipConfig {
  int64_t embed_dim = 256;  // the shared image-text space
  double projection_dropout = 0.1;
  std::string loss = "multi_positive";  // multi_positive | soft_target | siglip
  double temperature = 0.07;            // initial 1 / logit scale
  bool learn_temperature = true;
  double max_logit_scale = 100;
  double siglip_bias = -10;
  double soft_target_temperature = 1.0;
  std::string image_pretrained;  // torchvision / timm backbone weights (.pt dict or .safetensors) to start from
  ClipTextConfig text;
  std::vector<std::string> zeroshot_templates{"{}", "an emoji of {}", "a picture of {}"};
  int64_t eval_every = 5;  // epochs between retrieval evaluations on the test split (0 = only at the end)
  void visit(config::Visitor& v);
};

struct DiffusionConfig {
  int64_t timesteps = 1000;         // T
  std::string schedule = "linear";  // linear | cosine
  double beta_start = 1e-4, beta_end = 0.02;
  std::string prediction = "eps";  // eps | x0 | v
  double p_uncond = 0.1;           // classifier-free training: probability of the null class
  double ema_decay = 0.999;
  models::UNetConfig unet;
  int64_t sample_every = 0;  // epochs between sample grids in the run folder (0 = only at the end)
  double preview_guidance = 3;
  int64_t preview_steps = 50;
  void visit(config::Visitor& v);
};

struct AugmentConfig {
  std::vector<augment::ViewConfig> views{2};
  void visit(config::Visitor& v);
};

struct TrainConfig {
  int64_t epochs = 100;
  int64_t batch_size = 256;
  train::OptimizerConfig optimizer;
  train::ScheduleConfig schedule;
  double grad_clip = 0;
  bool grad_norms = false;
  int64_t checkpoint_every = 10;
  int64_t knn_every = 0;
  int64_t log_every = 50;
  int64_t stop_after_epochs = 0;
  void visit(config::Visitor& v);
};

struct KnnConfig {
  int64_t k = 200;
  double temperature = 0.1;
  void visit(config::Visitor& v);
};

struct LinearConfig {
  int64_t epochs = 100;
  int64_t batch_size = 1024;
  double lr = 1e-3;
  double weight_decay = 0;
  void visit(config::Visitor& v);
};

struct FinetuneConfig {
  bool at_end = false;
  double label_fraction = 0.1;
  int64_t epochs = 10;
  int64_t batch_size = 256;
  double lr = 0.05;
  double weight_decay = 5e-4;
  void visit(config::Visitor& v);
};

struct EvalConfig {
  KnnConfig knn;
  LinearConfig linear;
  FinetuneConfig finetune;
  bool at_end = true;
  bool baselines = false;
  int64_t batch_size = 512;
  int64_t image_size = 0;
  void visit(config::Visitor& v);
};

struct Recipe {
  std::string task = "ssl";  // ssl | clip | diffusion | noisy_classifier | classifier
  std::string name = "run";
  int64_t seed = 0;
  int64_t threads = 0;
  std::string device = "cpu";
  std::string run_dir = "runs";
  data::DataConfig data;
  models::BackboneConfig model;
  AugmentConfig augment;
  MethodConfig method;
  ClipConfig clip;
  DiffusionConfig diffusion;
  TrainConfig train;
  EvalConfig eval;
  void visit(config::Visitor& v);
};

// Reads a recipe file, applies `key=value` overrides and validates the result.
Recipe load_recipe(const std::string& path, const std::vector<std::string>& overrides = {});
// Parses recipe text (e.g. the copy stored in a checkpoint); `origin` names it in errors.
Recipe parse_recipe(const std::string& text, const std::string& origin, const std::vector<std::string>& overrides = {});
std::string recipe_to_yaml(Recipe recipe);
// Cross-field checks (batch divisible by BN splits, queue a multiple of the batch, ...).
void validate(const Recipe& r, const std::string& origin);

}  // namespace selfsup

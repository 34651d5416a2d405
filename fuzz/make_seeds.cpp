// Writes the seed corpus of the fuzz targets: small valid inputs of each format (and the shipped
// recipes), from which libFuzzer mutates. The SentencePiece seed comes from fuzz_sentencepiece itself
// (this program runs under ASan, which cannot load SentencePiece). Usage: selfsup_fuzz_seeds OUT_DIR [RECIPES_DIR]
// -> OUT_DIR/<target>/<seed files>.
#include <stb/stb_image_write.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "checkpoint_model.h"
#include "selfsup/builtin.h"
#include "selfsup/clip/index.h"
#include "selfsup/core/error.h"
#include "selfsup/core/fs.h"
#include "selfsup/io/safetensors.h"
#include "selfsup/io/tar.h"
#include "selfsup/models/state_dict.h"
#include "selfsup/train/checkpoint.h"
#include "selfsup/train/recipe.h"

namespace fs = std::filesystem;
using namespace selfsup;

namespace {

std::string out_dir;

void seed(const std::string& target, const std::string& name, const std::string& bytes) {
  fs::create_directories(out_dir + "/" + target);
  std::ofstream(out_dir + "/" + target + "/" + name, std::ios::binary) << bytes;
}

std::string u32be(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string gzip(const std::string& raw) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // +16: a gzip header and trailer
  std::string out(deflateBound(&z, raw.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = static_cast<uInt>(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// fuzz_idx's layout: byte 0 = labels length n, n bytes of labels file, then the images file.
void idx_seeds() {
  const uint32_t n = 3, h = 6, w = 5;
  std::string labels = u32be(0x801) + u32be(n) + std::string{0, 9, 4};
  std::string images = u32be(0x803) + u32be(n) + u32be(h) + u32be(w);
  for (uint32_t i = 0; i < n * h * w; ++i) images += static_cast<char>(i * 7);
  seed("idx", "raw", static_cast<char>(labels.size()) + labels + images);
  const auto gz_labels = gzip(labels);
  seed("idx", "gzip", static_cast<char>(gz_labels.size()) + gz_labels + gzip(images));
}

void write_callback(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), size);
}

void image_seeds() {
  for (const int channels : {1, 2, 3, 4}) {
    const int w = 7, h = 5;
    std::string pixels;
    for (int i = 0; i < w * h * channels; ++i) pixels += static_cast<char>(i * 13);
    const auto* p = reinterpret_cast<const unsigned char*>(pixels.data());
    const auto c = std::to_string(channels);
    std::string png, jpg, bmp;
    stbi_write_png_to_func(write_callback, &png, w, h, channels, p, w * channels);
    stbi_write_jpg_to_func(write_callback, &jpg, w, h, channels, p, 90);
    stbi_write_bmp_to_func(write_callback, &bmp, w, h, channels, p);
    seed("image", "c" + c + ".png", png);
    seed("image", "c" + c + ".jpg", jpg);
    seed("image", "c" + c + ".bmp", bmp);
  }
}

// Larger pictures than image_seeds', so the streaming decoder's DCT scales and regions apply.
void stream_image_seeds() {
  const int w = 96, h = 64;
  std::string rgb;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) rgb += {static_cast<char>(x * 2), static_cast<char>(y * 3), static_cast<char>((x + y) & 0xFF)};
  const auto* p = reinterpret_cast<const unsigned char*>(rgb.data());
  std::string jpg, gray_jpg, png;
  stbi_write_jpg_to_func(write_callback, &jpg, w, h, 3, p, 85);
  stbi_write_png_to_func(write_callback, &png, w, h, 3, p, w * 3);
  std::string gray;
  for (size_t i = 0; i < rgb.size(); i += 3) gray += rgb[i];
  stbi_write_jpg_to_func(write_callback, &gray_jpg, w, h, 1, reinterpret_cast<const unsigned char*>(gray.data()), 85);
  seed("stream_image", "rgb.jpg", jpg);
  seed("stream_image", "gray.jpg", gray_jpg);
  seed("stream_image", "rgb.png", png);
}

void tar_seeds() {
  io::TarWriter w;
  w.add("000000.jpg", "\xFF\xD8\xFF not really a JPEG");
  w.add("000000.txt", "a caption");
  w.add("000000.cls", "3");
  w.add("000001.png", "png bytes");
  w.add("000001.json", "{\"caption\": \"from json\"}");
  w.add(std::string(110, 'd') + "/000002.jpg", "long name");
  w.add("000002.txt", "");
  seed("tar", "shard.tar", w.finish());
}

void safetensors_seeds(const std::string& tmp) {
  io::write_safetensors(tmp, {{"w", torch::arange(6, torch::kFloat).reshape({2, 3})},
                              {"b", torch::tensor({1, 2}, torch::kInt64)},
                              {"h", torch::ones({3}, torch::kHalf)},
                              {"m", torch::tensor({true, false})}},
                        {{"format", "pt"}});
  seed("safetensors", "mixed", read_file(tmp));
  io::write_safetensors(tmp, {{"empty", torch::zeros({0, 4})}});
  seed("safetensors", "empty_tensor", read_file(tmp));
}

void recipe_seeds(const std::string& recipes_dir) {
  for (const auto& entry : fs::directory_iterator(recipes_dir))
    if (entry.path().extension() == ".yaml") seed("recipe", entry.path().filename().string(), read_file(entry.path().string()));
  seed("recipe", "with_overrides", read_file(recipes_dir + "/tiny_test.yaml") +
                                       "\n%%\ntrain.epochs=3\nmethod.moco.temperature=0.1\naugment.views.0.flip=0\n");
}

void wordpiece_seeds() {
  const std::string vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\ndog\n##s\nrun\n##ning\ncafé\n.\n,\n";
  seed("wordpiece", "plain", "A dog's running, Café.\n%%\n" + vocab);
  seed("wordpiece", "unicode", "Zoë \xe4\xb8\xad\xe6\x96\x87 dogs\t\xf0\x9f\x90\x95 run\n%%\n" + vocab);
}

void index_seeds(const std::string& tmp) {
  const auto embeddings = torch::nn::functional::normalize(
      torch::arange(24, torch::kFloat).reshape({4, 6}) - 10, torch::nn::functional::NormalizeFuncOptions().dim(1));
  clip::write_index(tmp, embeddings, {"a.png", "b/c.jpg", "d.png", "e f.png"}, {{"name", "seed"}, {"fingerprint", "0123456789abcdef"}});
  seed("index", "four", read_file(tmp));
}

void caption_seeds() {
  seed("captions", "captions.txt",
       "image,caption\na.png,A dog runs .\na.png,\"A dog, brown, runs \"\"fast\"\" .\"\r\nb.png,Two cats .\n\nb.png,Cats sleep .\n");
  seed("captions", "captions.csv", "image,caption,id\na.png,A dog runs .,0\nb.png,Two cats .,1\n");
}

void checkpoint_seeds(const std::string& recipes_dir, const std::string& tmp) {
  torch::manual_seed(0);
  fuzz::CheckpointState state;
  const auto recipe = recipe_to_yaml(load_recipe(recipes_dir + "/tiny_test.yaml"));
  train::save_checkpoint(tmp, *state.model, &state.optimizer, {recipe, 1, 8, 512, {{"tokenizer", "[PAD]\n[UNK]\n"}}});
  seed("checkpoint", "with_optimizer", read_file(tmp));
  train::save_checkpoint(tmp, *state.model, nullptr, {recipe, 2, 16, 512, {}});
  seed("checkpoint", "weights_only", read_file(tmp));
}

void state_dict_seeds(const std::string& tmp) {
  models::save_state_dict_pt(tmp, {{"fc.weight", torch::arange(6, torch::kFloat).reshape({2, 3})},
                                   {"fc.bias", torch::zeros({2})},
                                   {"bn.num_batches_tracked", torch::tensor(int64_t{3})}});
  seed("statedict", "three_tensors", read_file(tmp));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " OUT_DIR [RECIPES_DIR]\n";
    return 2;
  }
  out_dir = argv[1];
  const std::string recipes_dir = argc > 2 ? argv[2] : "recipes";
  try {
    register_builtin();
    fs::create_directories(out_dir);
    const auto tmp = out_dir + "/.scratch";
    idx_seeds();
    image_seeds();
    stream_image_seeds();
    tar_seeds();
    safetensors_seeds(tmp);
    recipe_seeds(recipes_dir);
    wordpiece_seeds();
    index_seeds(tmp);
    caption_seeds();
    checkpoint_seeds(recipes_dir, tmp);
    state_dict_seeds(tmp);
    fs::remove(tmp);
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}

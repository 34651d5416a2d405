// The diffusion subcommands of the selfsup CLI: `sample` (a grid of generated images for one class
// or every class, with classifier-free or classifier guidance) and the `eval samples` protocol (the
// guidance sweep measured by a judge classifier). Parse, call the library, print.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace selfsup::cli {

class DiffusionCommands {
 public:
  // Adds `sample` to `app` and the sweep's options to the existing `eval` subcommand.
  DiffusionCommands(CLI::App& app, CLI::App& eval_cmd);
  bool run(int& exit_code);  // false when the command line chose no diffusion subcommand

  // `selfsup eval samples --checkpoint C --judge J ...`.
  int eval_samples(const std::string& checkpoint, const std::string& json_out);

 private:
  int sample();

  CLI::App* sample_cmd_;
  std::string checkpoint_, class_, out_ = "samples.png", sampler_ = "ddim", variance_ = "small", classifier_;
  std::string judge_, sweep_out_ = "runs/guidance_sweep", cfg_scales_ = "0,1,2,3,5", classifier_scales_;
  double guidance_ = 3, eta_ = 0, classifier_scale_ = 0;
  int64_t steps_ = 50, n_ = 0, seed_ = 0, batch_size_ = 250, scale_ = 2, per_class_ = 100;
};

}  // namespace selfsup::cli

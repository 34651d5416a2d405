#include "selfsup/train/grad_norms.h"

#include "selfsup/core/error.h"

#include <cmath>
#include <filesystem>

namespace selfsup::train {

std::string grad_norm_group(const std::string& parameter_name) {
  const auto first = parameter_name.find('.');
  if (first == std::string::npos) return parameter_name;
  const auto second = parameter_name.find('.', first + 1);
  return second == std::string::npos ? parameter_name : parameter_name.substr(0, second);
}

GradNormLog::GradNormLog(const std::vector<NamedParameter>& params, const std::string& csv_path) : path_(csv_path) {
  for (const auto& p : params) {
    const auto group = grad_norm_group(p.name);
    size_t i = 0;
    while (i < groups_.size() && groups_[i] != group) ++i;
    if (i == groups_.size()) {
      groups_.push_back(group);
      members_.emplace_back();
    }
    members_[i].push_back(p.tensor);
  }
  const bool fresh = !std::filesystem::exists(csv_path);
  out_.open(csv_path, std::ios::app);
  if (!out_) throw Error(csv_path + ": cannot open for writing");
  if (fresh) {
    out_ << "step";
    for (const auto& g : groups_) out_ << "," << g;
    out_ << "\n";
  }
}

std::vector<double> GradNormLog::norms() const {
  torch::NoGradGuard no_grad;
  std::vector<double> result;
  for (const auto& tensors : members_) {
    double sq = 0;
    for (const auto& t : tensors)
      if (t.grad().defined()) sq += t.grad().to(torch::kDouble).pow(2).sum().item<double>();
    result.push_back(std::sqrt(sq));
  }
  return result;
}

void GradNormLog::record(int64_t step) {
  out_ << step;
  for (double n : norms()) out_ << "," << n;
  out_ << "\n";
  if (!out_) throw Error(path_ + ": cannot append step " + std::to_string(step) + " (disk full?)");
}

}  // namespace selfsup::train

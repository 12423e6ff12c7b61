#include "atman/model.h"

#include <ATen/ATen.h>

#include <iomanip>
#include <sstream>

#include "atman/error.h"
#include "atman/models/loaded_model.h"

namespace atman {
namespace {

at::Device parse_device(const std::string& name) {
  try {
    at::Device device(name);
    if (device.is_cuda() && !at::hasCUDA())
      throw ModelError("device '" + name + "' asked for, but this LibTorch build has no CUDA; use cpu");
    return device;
  } catch (const c10::Error&) {
    throw ModelError("unknown device '" + name + "'; use cpu, cuda or cuda:N");
  }
}

int64_t count_parameters(const Checkpoint& checkpoint) {
  int64_t total = 0;
  for (const auto& name : checkpoint.names()) {
    if (name.find("position_ids") != std::string::npos) continue;  // buffers, not parameters
    int64_t numel = 1;
    for (int64_t d : checkpoint.info(name).shape) numel *= d;
    total += numel;
  }
  return total;
}

}  // namespace

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;

std::shared_ptr<const Model> Model::load(const std::filesystem::path& dir,
                                         const LoadOptions& options) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw ModelError("model folder '" + dir.string() + "' does not exist or is not a folder");
  // No grad, but not InferenceMode: inference tensors cannot be saved for backward, and the
  // gradient baselines (ixg, ig, gradcam, chefer) differentiate through these weights.
  at::NoGradGuard no_grad;
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->device = parse_device(options.device);
  impl->config = load_model_config(dir);
  Checkpoint checkpoint(dir);
  impl->tokenizer = load_tokenizer(dir);
  if (const auto* clip = std::get_if<ClipConfig>(&impl->config)) {
    impl->kind = ModelKind::Clip;
    impl->architecture = "CLIP";
    impl->clip = std::make_unique<ClipModel>(*clip, checkpoint, impl->device);
    impl->preprocess = load_preprocess_config(dir);
  } else if (const auto* gpt2 = std::get_if<Gpt2Config>(&impl->config)) {
    impl->kind = ModelKind::CausalLM;
    impl->architecture = "GPT-2";
    impl->lm = std::make_unique<Gpt2Model>(*gpt2, checkpoint, impl->device);
  } else if (const auto* llama = std::get_if<LlamaConfig>(&impl->config)) {
    impl->kind = ModelKind::CausalLM;
    impl->architecture = llama->architecture.empty() ? "Llama" : llama->architecture;
    impl->lm = std::make_unique<LlamaModel>(*llama, checkpoint, impl->device);
  } else {
    const auto& llava = std::get<LlavaConfig>(impl->config);
    impl->kind = ModelKind::Llava;
    impl->architecture = "LLaVA";
    impl->llava = std::make_unique<LlavaModel>(llava, checkpoint, impl->device);
    impl->preprocess = load_preprocess_config(dir);
  }
  impl->parameters = count_parameters(checkpoint);
  return std::shared_ptr<const Model>(new Model(std::move(impl)));
}

ModelKind Model::kind() const { return impl_->kind; }
const std::filesystem::path& Model::dir() const { return impl_->dir; }
std::string Model::name() const {
  auto normal = impl_->dir.lexically_normal();
  if (normal.filename().empty()) normal = normal.parent_path();
  // A Hub cache snapshot (.../models--ORG--NAME/snapshots/<commit>) is named by its repo id.
  auto repo = normal.parent_path().parent_path().filename().string();
  if (normal.parent_path().filename() == "snapshots" && repo.rfind("models--", 0) == 0) {
    std::string id = repo.substr(8);
    if (auto sep = id.find("--"); sep != std::string::npos) id.replace(sep, 2, "/");
    return id;
  }
  return normal.filename().string();
}
std::string Model::architecture() const { return impl_->architecture; }
int64_t Model::parameter_count() const { return impl_->parameters; }
std::string Model::device() const { return impl_->device.str(); }
const Tokenizer& Model::tokenizer() const { return *impl_->tokenizer; }
const ClipPreprocessConfig& Model::preprocess_config() const { return impl_->preprocess; }

int Model::patch_grid() const {
  if (impl_->clip) return impl_->clip->vision().grid_size();
  if (impl_->llava) return impl_->llava->vision_tower().grid_size();
  return 0;
}

int64_t Model::max_text_tokens() const {
  if (impl_->clip) return impl_->clip->max_text_length();
  return impl_->language_model().max_positions();
}

std::string Model::description() const {
  std::ostringstream out;
  out << name() << ": " << architecture() << ", " << std::fixed << std::setprecision(1)
      << parameter_count() / 1e6 << "M parameters";
  if (int grid = patch_grid()) out << ", " << grid << "x" << grid << " patches";
  out << ", on " << device();
  return out.str();
}

}  // namespace atman

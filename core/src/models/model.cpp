#include "atman/model.h"

#include <ATen/ATen.h>

#include <fstream>
#include <iomanip>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "atman/error.h"
#include "atman/runtime.h"
#include "models/loaded_model.h"

namespace atman {
namespace {

at::Device parse_device(const std::string& name) {
  try {
    at::Device device(name);
    if (device.is_cuda() && !at::hasCUDA())
      throw ModelError("device '" + name +
                       "' asked for, but this LibTorch build has no CUDA; use cpu");
    return device;
  } catch (const c10::Error&) {
    throw ModelError("unknown device '" + name + "'; use cpu, cuda or cuda:N");
  }
}

const char* dtype_name(at::ScalarType dtype) {
  switch (dtype) {
    case at::kBFloat16:
      return "bfloat16";
    case at::kHalf:
      return "float16";
    default:
      return "float32";
  }
}

std::optional<at::ScalarType> parse_dtype_name(const std::string& name) {
  if (name == "float32" || name == "float" || name == "fp32") return at::kFloat;
  if (name == "bfloat16" || name == "bf16") return at::kBFloat16;
  if (name == "float16" || name == "half" || name == "fp16") return at::kHalf;
  return std::nullopt;
}

// config.json's torch_dtype ("dtype" in newer transformers; LLaVA may keep it in text_config).
std::optional<at::ScalarType> checkpoint_dtype(const std::filesystem::path& dir) {
  std::ifstream in(dir / "config.json", std::ios::binary);
  nlohmann::json config = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!config.is_object()) return std::nullopt;
  for (const auto* object :
       {&config, config.contains("text_config") ? &config["text_config"] : nullptr}) {
    if (!object || !object->is_object()) continue;
    for (const char* key : {"torch_dtype", "dtype"})
      if (auto it = object->find(key); it != object->end() && it->is_string())
        if (auto dtype = parse_dtype_name(it->get<std::string>())) return dtype;
  }
  return std::nullopt;
}

// LoadOptions::dtype on `device` as a scalar type, with the reasons a choice cannot work.
at::ScalarType resolve_dtype(const std::string& name, at::Device device,
                             const std::filesystem::path& dir) {
  at::ScalarType dtype = at::kFloat;
  if (name.empty() || name == "auto") {
    // The CPU computes in float32 unless asked: LibTorch's CPU kernels for 16-bit floats are
    // slower than float32 on most CPUs; a GPU is where the checkpoint's own dtype pays.
    if (device.is_cuda()) dtype = checkpoint_dtype(dir).value_or(at::kFloat);
  } else if (auto parsed = parse_dtype_name(name)) {
    dtype = *parsed;
  } else {
    throw ModelError("unknown dtype '" + name + "'; use auto, float32, bfloat16 or float16");
  }
  if (dtype == at::kHalf && !device.is_cuda())
    throw ModelError(
        "float16 needs a CUDA device: LibTorch's CPU kernels have no float16 matrix products; use "
        "bfloat16 (half the memory of float32 too) or float32 on the CPU");
  return dtype;
}

std::string gib(uint64_t bytes) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(bytes < (1ull << 30) ? 0 : 2);
  if (bytes < (1ull << 30))
    out << bytes / double(1 << 20) << " MiB";
  else
    out << bytes / double(1ull << 30) << " GiB";
  return out.str();
}

MemoryEstimate estimate(const Checkpoint& checkpoint, at::ScalarType dtype, at::Device device,
                        uint64_t limit) {
  MemoryEstimate out;
  out.dtype = dtype_name(dtype);
  out.device = device.str();
  out.stored_bytes = checkpoint.stored_bytes();
  out.weight_bytes = checkpoint.loaded_bytes(dtype);
  if (limit) {
    out.available_bytes = limit;
    out.available_source = "limit given";
  } else {
    out.available_bytes = available_memory_bytes(device.str());
    out.available_source = device.is_cuda() ? "CUDA free memory" : "MemAvailable";
  }
  return out;
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

std::string MemoryEstimate::report() const {
  std::ostringstream out;
  out << "weights: " << gib(weight_bytes) << " as " << dtype << " on " << device << " ("
      << gib(stored_bytes) << " stored)\n";
  out << "available: "
      << (available_bytes ? gib(available_bytes) + " (" + available_source + ")"
                          : std::string("unknown"))
      << "\n";
  if (!fits()) out << "does not fit: the weights need more than is available\n";
  return out.str();
}

MemoryEstimate Model::estimate_memory(const std::filesystem::path& dir,
                                      const LoadOptions& options) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw ModelError("model folder '" + dir.string() + "' does not exist or is not a folder");
  const at::Device device = parse_device(options.device);
  const at::ScalarType dtype = resolve_dtype(options.dtype, device, dir);
  // Headers only: no populating the mapping for a tensor that is never read.
  const Checkpoint headers(dir, CheckpointOptions{dtype, /*zero_copy=*/false});
  return estimate(headers, dtype, device, options.memory_limit_bytes);
}

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
  impl->dtype = resolve_dtype(options.dtype, impl->device, dir);
  // Views of the mapping only where the weights stay in host memory.
  Checkpoint checkpoint(dir,
                        CheckpointOptions{impl->dtype, options.zero_copy && impl->device.is_cpu()});
  // Checked from the headers before any tensor is read: a model that cannot fit fails now with
  // the numbers, not later in the kernel's OOM killer or a CUDA out-of-memory error mid-load.
  if (const auto need = estimate(checkpoint, impl->dtype, impl->device, options.memory_limit_bytes);
      !need.fits())
    throw ModelError("model '" + dir.string() + "' needs " + gib(need.weight_bytes) +
                     " for its weights as " + need.dtype + " on " + need.device + ", but only " +
                     gib(need.available_bytes) + " is available (" + need.available_source + ")" +
                     (impl->dtype == at::kFloat
                          ? "; load it as bfloat16 (--dtype bfloat16) to halve that"
                          : "; close other programs or use a smaller model"));
  impl->tokenizer = load_tokenizer(dir);
  if (const auto* siglip = std::get_if<SiglipConfig>(&impl->config); siglip && siglip->naflex) {
    impl->kind = ModelKind::Siglip;
    impl->architecture = "SigLIP 2 NaFlex";
    impl->siglip2 = std::make_unique<Siglip2Model>(
        *siglip, checkpoint, impl->device,
        siglip2_text_options(dir, *impl->tokenizer, siglip->pad_token_id),
        load_siglip2_image_config(dir));
    // Its processor resizes by its own rule (siglip2_image_size): as for Qwen2.5-VL, the
    // CLIP-style preprocessing every caller runs is the identity, so a PixelTensor carries the
    // original pixels to it.
    impl->preprocess.do_resize = impl->preprocess.do_center_crop = false;
    impl->preprocess.do_normalize = false;
    impl->preprocess.rescale_factor = 1.0;
  } else if (siglip) {
    impl->kind = ModelKind::Siglip;
    impl->architecture = "SigLIP";
    impl->siglip = std::make_unique<SiglipModel>(*siglip, checkpoint, impl->device);
    impl->preprocess = load_preprocess_config(dir);
  } else if (const auto* clip = std::get_if<ClipConfig>(&impl->config)) {
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
  } else if (const auto* qwen = std::get_if<Qwen2_5_VLConfig>(&impl->config)) {
    // An image-prefix LM like LLaVA (same kind and capabilities), with its own tower and processor.
    impl->kind = ModelKind::Llava;
    impl->architecture = "Qwen2.5-VL";
    impl->qwen_vl = std::make_unique<Qwen2_5_VLModel>(*qwen, checkpoint, impl->device,
                                                      load_qwen2_vl_image_config(dir));
    // Its processor resizes by its own rule (smart_resize): the CLIP-style preprocessing every
    // caller runs is made the identity, so a PixelTensor carries the original pixels to it.
    impl->preprocess.do_resize = impl->preprocess.do_center_crop = false;
    impl->preprocess.do_normalize = false;
    impl->preprocess.rescale_factor = 1.0;
  } else if (const auto* idefics3 = std::get_if<Idefics3Config>(&impl->config)) {
    impl->kind = ModelKind::Llava;
    impl->architecture = idefics3->model_type == "smolvlm" ? "SmolVLM2" : "Idefics3";
    impl->idefics3 = std::make_unique<Idefics3Model>(*idefics3, checkpoint, impl->device,
                                                     load_idefics3_image_config(dir));
    // Its processor resizes and tiles by its own rule; what the CLIP-style config says is only
    // the per-view rescale and normalisation (and the tile as the "crop").
    impl->preprocess = impl->idefics3->image_config().view_config();
  } else {
    const auto& llava = std::get<LlavaConfig>(impl->config);
    impl->kind = ModelKind::Llava;
    impl->architecture = llava.model_type == "llava_next"        ? "LLaVA-NeXT"
                         : llava.model_type == "llava_onevision" ? "LLaVA-OneVision"
                         : !llava.paligemma()                    ? "LLaVA"
                         : llava.text.model_type == "gemma2"     ? "PaliGemma 2"
                                                                 : "PaliGemma";
    impl->llava = std::make_unique<LlavaModel>(llava, checkpoint, impl->device);
    impl->preprocess = load_preprocess_config(dir);
  }
  impl->parameters = count_parameters(checkpoint);
  return std::shared_ptr<const Model>(new Model(std::move(impl)));
}

std::shared_ptr<const Model> Model::load_view(const std::filesystem::path& dir,
                                              RemoteModelInfo info) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw ModelError("model folder '" + dir.string() + "' does not exist or is not a folder");
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->config = load_model_config(dir);
  impl->tokenizer = load_tokenizer(dir);
  if (std::holds_alternative<SiglipConfig>(impl->config)) {
    impl->kind = ModelKind::Siglip;
  } else if (std::holds_alternative<ClipConfig>(impl->config)) {
    impl->kind = ModelKind::Clip;
  } else if (std::holds_alternative<LlavaConfig>(impl->config) ||
             std::holds_alternative<Idefics3Config>(impl->config)) {
    impl->kind = ModelKind::Llava;
  } else {
    impl->kind = ModelKind::CausalLM;
  }
  if (std::holds_alternative<Idefics3Config>(impl->config))
    impl->preprocess = load_idefics3_image_config(dir).view_config();
  else if (impl->kind != ModelKind::CausalLM)
    impl->preprocess = load_preprocess_config(dir);
  if (const auto* siglip = std::get_if<SiglipConfig>(&impl->config); siglip && siglip->naflex) {
    // As Model::load: the server's processor sees the original pixels.
    impl->preprocess.do_resize = impl->preprocess.do_center_crop = false;
    impl->preprocess.do_normalize = false;
    impl->preprocess.rescale_factor = 1.0;
  }
  impl->architecture = info.architecture;
  impl->parameters = info.parameters;
  impl->remote = std::move(info);
  return std::shared_ptr<const Model>(new Model(std::move(impl)));
}

const RemoteModelInfo* Model::remote() const {
  return impl_->remote ? &*impl_->remote : nullptr;
}

void require_weights(const Model& model) {
  if (const RemoteModelInfo* remote = model.remote())
    throw ModelError("model '" + model.name() + "' runs on the server " + remote->address +
                     ": use the remote client's explainer and predictions (atman/remote.h), not "
                     "the local core");
}

ModelCapabilities capabilities(ModelKind kind) {
  switch (kind) {
    case ModelKind::Clip:
      return {.reads_images = true,
              .generates = false,
              .target_is_label = true,
              .default_explained = ExplainWhat::ImagePatches};
    case ModelKind::CausalLM:
      return {.reads_images = false,
              .generates = true,
              .target_is_label = false,
              .default_explained = ExplainWhat::PromptTokens};
    case ModelKind::Llava:
      return {.reads_images = true,
              .generates = true,
              .target_is_label = false,
              .default_explained = ExplainWhat::ImagePatches};
    case ModelKind::Siglip:
      return {.reads_images = true,
              .generates = false,
              .target_is_label = true,
              .default_explained = ExplainWhat::ImagePatches};
  }
  return {};  // unreachable: every kind is listed (-Wswitch warns when one is added)
}

ModelKind Model::kind() const {
  return impl_->kind;
}
ModelCapabilities Model::capabilities() const {
  return atman::capabilities(impl_->kind);
}
const std::filesystem::path& Model::dir() const {
  return impl_->dir;
}
std::string Model::name() const {
  if (impl_->remote) return impl_->remote->name;
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
std::string Model::architecture() const {
  return impl_->architecture;
}
int64_t Model::parameter_count() const {
  return impl_->parameters;
}
std::string Model::device() const {
  if (impl_->remote) return impl_->remote->device;
  return impl_->device.str();
}
std::string Model::dtype() const {
  if (impl_->remote) return impl_->remote->dtype;
  return dtype_name(impl_->dtype);
}
const Tokenizer& Model::tokenizer() const {
  return *impl_->tokenizer;
}
const ClipPreprocessConfig& Model::preprocess_config() const {
  return impl_->preprocess;
}

PixelTensor Model::preprocess(const RgbImage& image) const {
  if (impl_->llava) return impl_->llava->preprocess(image, impl_->preprocess);
  if (impl_->idefics3) return impl_->idefics3->preprocess(image);
  return preprocess_clip(image, impl_->preprocess);
}

ClipInputGeometry Model::input_geometry(int image_width, int image_height) const {
  // From the config, not the weights, so a server's model (load_view) answers as well.
  const auto* llava = std::get_if<LlavaConfig>(&impl_->config);
  const auto* idefics3 = std::get_if<Idefics3Config>(&impl_->config);
  if (!idefics3 && (!llava || !llava->anyres()))
    return clip_input_geometry(image_width, image_height, impl_->preprocess);
  if (image_width <= 0 || image_height <= 0)
    throw InputError("cannot preprocess an image of " + std::to_string(image_width) + "x" +
                     std::to_string(image_height) + " pixels");
  // Anyres: the base view is the whole image resized to the tower's square (preprocess_anyres);
  // Idefics3's global view likewise (preprocess_idefics3).
  const int side = idefics3 ? idefics3->vision.image_size : llava->vision.image_size;
  ClipInputGeometry out;
  out.resized_width = out.resized_height = out.width = out.height = side;
  out.geometry.original_width = image_width;
  out.geometry.original_height = image_height;
  out.geometry.scale = double(side) / image_width;
  out.geometry.scale_y = double(side) / image_height;
  out.geometry.crop_size = side;
  return out;
}

PixelTensor Model::input_shape(int image_width, int image_height) const {
  const ClipInputGeometry input = input_geometry(image_width, image_height);
  PixelTensor out;
  out.width = input.width;
  out.height = input.height;
  out.geometry = input.geometry;
  return out;
}

int Model::patch_grid() const {
  if (impl_->remote) return impl_->remote->patch_grid;
  if (impl_->clip) return impl_->clip->vision().grid_size();
  if (impl_->llava) return impl_->llava->grid_size();
  if (impl_->idefics3) return impl_->idefics3->token_grid();
  if (impl_->siglip) return impl_->siglip->grid_size();
  return 0;
}

bool Model::prompt_places_image(const std::string& prompt) const {
  if (kind() != ModelKind::Llava || prompt.find("<image>") != std::string::npos) return true;
  if (std::holds_alternative<Qwen2_5_VLConfig>(impl_->config))
    return prompt.find("<|image_pad|>") != std::string::npos;
  const auto* llava = std::get_if<LlavaConfig>(&impl_->config);
  return llava && llava->paligemma();
}

int64_t Model::max_text_tokens() const {
  if (impl_->remote) return impl_->remote->max_text_tokens;
  if (impl_->clip) return impl_->clip->max_text_length();
  if (impl_->siglip) return impl_->siglip->max_text_length();
  if (impl_->siglip2) return impl_->siglip2->max_text_length();
  return impl_->language_model().max_positions();
}

std::string Model::description() const {
  std::ostringstream out;
  out << name() << ": " << architecture() << ", " << std::fixed << std::setprecision(1)
      << parameter_count() / 1e6 << "M parameters";
  if (int grid = patch_grid()) out << ", " << grid << "x" << grid << " patches";
  out << ", on " << device();
  if (dtype() != "float32") out << " in " << dtype();
  if (impl_->remote) out << " of " << impl_->remote->address;
  return out.str();
}

}  // namespace atman

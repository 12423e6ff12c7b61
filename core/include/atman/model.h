// A loaded model folder, as the GUI and CLI see it: no tensors in this header.
//
//   auto model = atman::Model::load("../shared/models/shapes-clip");
//   std::cout << model->description();
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "atman/explanation.h"
#include "atman/image.h"
#include "atman/tokenizer.h"

namespace atman {

enum class ModelKind {
  Clip,      // zero-shot image/text matching: explain image patches or label-prompt tokens
  CausalLM,  // GPT-2 / Llama-style: explain prompt tokens for a target continuation
  Llava,     // image-prefix LM: explain image tokens and prompt tokens for an answer
  Siglip,    // zero-shot image/text matching with sigmoid scores: explain image patches
};

// What a kind of model can do, from one table (model.cpp), so that callers ask the model instead of
// re-deriving it from the kind.
struct ModelCapabilities {
  bool reads_images = false;     // takes an image (CLIP, LLaVA)
  bool generates = false;        // continues a prompt: generation, steering (causal LMs, LLaVA)
  bool target_is_label = false;  // the target is one of a zero-shot label set (CLIP)
  ExplainWhat default_explained = ExplainWhat::PromptTokens;  // image models: the patches
};
ModelCapabilities capabilities(ModelKind kind);

struct LoadOptions {
  std::string device = "cpu";  // "cpu", "cuda", "cuda:1"
  // The compute dtype: "auto", "float32", "bfloat16" or "float16". auto is the checkpoint's
  // torch_dtype (config.json) on CUDA and float32 on the CPU. Weights are converted only when
  // stored in another dtype; on the CPU, weights stored in the compute dtype are not copied at all
  // (views of the memory-mapped file).
  std::string dtype = "auto";
  // Refuse to load when the weights need more than this many bytes; 0: what the device has free
  // (MemAvailable of /proc/meminfo, or the CUDA device's free memory).
  uint64_t memory_limit_bytes = 0;
  // false: copy every weight out of the file (the pre-mmap path; for comparisons and tests).
  bool zero_copy = true;
};

// What a model folder's weights will take once loaded, from the safetensors headers alone.
struct MemoryEstimate {
  std::string dtype;             // the compute dtype the options resolve to, e.g. "bfloat16"
  std::string device;            // "cpu", "cuda:0"
  uint64_t stored_bytes = 0;     // the tensors as stored in the files
  uint64_t weight_bytes = 0;     // the tensors in the compute dtype: what loading needs
  uint64_t available_bytes = 0;  // free on the device (or the limit given), 0 when unknown
  std::string available_source;  // "MemAvailable", "CUDA free memory", "limit given"
  bool fits() const { return available_bytes == 0 || weight_bytes <= available_bytes; }
  std::string report() const;  // a few lines for `atman info --model`
};

// A model that runs on an `atman serve` server, seen from a client (atman/remote.h): the facts a
// local Model reads from its weights, as the server reported them.
struct RemoteModelInfo {
  std::string address;   // the server, "HOST:PORT"
  std::string model_id;  // the server's id of the loaded model
  std::string name, architecture, device, dtype;
  int64_t parameters = 0;
  int patch_grid = 0;
  int64_t max_text_tokens = 0;
  std::shared_ptr<const void> keep_alive;  // owned by the view: e.g. its temporary folder
};

class Model {
 public:
  // Loads config, weights (in the compute dtype of LoadOptions::dtype) and tokenizer. Throws
  // ModelError naming the folder and the problem; the folder must hold config.json,
  // model.safetensors (or an index) and the tokenizer files. Before any tensor is read, the memory
  // the weights need (see estimate_memory) is compared with what is available; a model that does
  // not fit is a ModelError saying both numbers.
  static std::shared_ptr<const Model> load(const std::filesystem::path& dir,
                                           const LoadOptions& options = {});
  // The memory a load with `options` would need, without loading (reads config.json and the
  // safetensors headers). Throws ModelError for a folder that is not a model or a bad option.
  static MemoryEstimate estimate_memory(const std::filesystem::path& dir,
                                        const LoadOptions& options = {});
  // A weight-less view of a server's model (atman/remote.h): config, tokenizer and preprocessing
  // from `dir`, the rest from `info`. Code that needs the weights throws ModelError for it.
  static std::shared_ptr<const Model> load_view(const std::filesystem::path& dir,
                                                RemoteModelInfo info);
  ~Model();

  ModelKind kind() const;
  ModelCapabilities capabilities() const;  // atman::capabilities(kind())
  bool reads_images() const { return capabilities().reads_images; }
  bool generates() const { return capabilities().generates; }
  bool target_is_label() const { return capabilities().target_is_label; }
  const std::filesystem::path& dir() const;
  std::string name() const;  // the folder name
  // "CLIP", "GPT-2", "Llama", "Qwen2", "Qwen3", "Mistral", "Gemma 2", "Gemma 3", "Phi-3",
  // "OLMo 2", "LLaVA"
  std::string architecture() const;
  std::string description() const;  // one line: architecture, size, parameters, device
  int64_t parameter_count() const;
  std::string device() const;
  std::string dtype() const;  // the compute dtype: "float32", "bfloat16", "float16"
  const Tokenizer& tokenizer() const;
  // Image preprocessing of CLIP and LLaVA models; patch grid side (0 for text-only models).
  const ClipPreprocessConfig& preprocess_config() const;
  // The pixel values the model reads for an image: preprocess_clip with preprocess_config(), or
  // for anyres LLaVA (LLaVA-NeXT, OneVision) the base view and its tiles. Use this, not
  // preprocess_clip, for anything a model will read.
  PixelTensor preprocess(const RgbImage& image) const;
  // What preprocess() does to an image of this size for the (base) view, without its pixels.
  ClipInputGeometry input_geometry(int image_width, int image_height) const;
  // preprocess()'s result for an image of this size without its values: its size and geometry
  // (one view), all input_layout reads. Cheap: no resampling.
  PixelTensor input_shape(int image_width, int image_height) const;
  int patch_grid() const;  // of the (base) view
  // Whether a prompt the user wrote gives this model's image its place: the <image> marker, for
  // Qwen2.5-VL also its own <|image_pad|> (as <|vision_start|><|image_pad|><|vision_end|>), and
  // any prompt for PaliGemma, whose processor puts the image first. True for models that take no
  // image in their prompt (text-only, CLIP, SigLIP). Says nothing about other errors the prompt
  // may hold (two images, say): those come when it is encoded.
  bool prompt_places_image(const std::string& prompt) const;
  int64_t max_text_tokens() const;
  // Where the model runs when it is a view of a server's model (load_view); null when local.
  const RemoteModelInfo* remote() const;

  struct Impl;  // tensors and architectures: core-internal, see core/src/models/loaded_model.h
  const Impl& impl() const { return *impl_; }

 private:
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace atman

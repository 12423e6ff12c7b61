// A loaded model folder, as the GUI and CLI see it: no tensors in this header.
//
//   auto model = atman::Model::load("../shared/models/shapes-clip");
//   std::cout << model->description();
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "atman/image.h"
#include "atman/tokenizer.h"

namespace atman {

enum class ModelKind {
  Clip,      // zero-shot image/text matching: explain image patches or label-prompt tokens
  CausalLM,  // GPT-2 / Llama-style: explain prompt tokens for a target continuation
  Llava,     // image-prefix LM: explain image tokens and prompt tokens for an answer
};

struct LoadOptions {
  std::string device = "cpu";  // "cpu", "cuda", "cuda:1"
};

class Model {
 public:
  // Loads config, weights (converted to fp32) and tokenizer. Throws ModelError naming the folder
  // and the problem; the folder must hold config.json, model.safetensors (or an index) and the
  // tokenizer files.
  static std::shared_ptr<const Model> load(const std::filesystem::path& dir,
                                           const LoadOptions& options = {});
  ~Model();

  ModelKind kind() const;
  const std::filesystem::path& dir() const;
  std::string name() const;          // the folder name
  // "CLIP", "GPT-2", "Llama", "Qwen2", "Qwen3", "Mistral", "Gemma 2", "Gemma 3", "Phi-3",
  // "OLMo 2", "LLaVA"
  std::string architecture() const;
  std::string description() const;   // one line: architecture, size, parameters, device
  int64_t parameter_count() const;
  std::string device() const;
  const Tokenizer& tokenizer() const;
  // Image preprocessing of CLIP and LLaVA models; patch grid side (0 for text-only models).
  const ClipPreprocessConfig& preprocess_config() const;
  int patch_grid() const;
  int64_t max_text_tokens() const;

  struct Impl;  // tensors and architectures: core-internal, see atman/models/loaded_model.h
  const Impl& impl() const { return *impl_; }

 private:
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace atman

// What Model holds: the architecture objects. Core-internal (pulls in ATen).
#pragma once

#include <c10/core/Device.h>

#include <memory>
#include <optional>

#include "atman/hf_config.h"
#include "atman/model.h"
#include "models/clip.h"
#include "models/gpt2.h"
#include "models/idefics3.h"
#include "models/llama.h"
#include "models/llava.h"
#include "models/qwen2_5_vl.h"
#include "models/siglip.h"
#include "models/siglip2.h"

namespace atman {

struct Model::Impl {
  std::filesystem::path dir;
  ModelConfig config;
  ModelKind kind = ModelKind::Clip;
  std::string architecture;
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;  // the compute dtype of the weights
  int64_t parameters = 0;
  std::unique_ptr<Tokenizer> tokenizer;
  ClipPreprocessConfig preprocess;
  std::unique_ptr<ClipModel> clip;           // kind == Clip
  std::unique_ptr<CausalLM> lm;              // kind == CausalLM
  std::unique_ptr<LlavaModel> llava;         // kind == Llava
  std::unique_ptr<Qwen2_5_VLModel> qwen_vl;  // kind == Llava too: an image-prefix LM
  std::unique_ptr<Idefics3Model> idefics3;   // kind == Llava too (SmolVLM)
  std::unique_ptr<SiglipModel> siglip;       // kind == Siglip
  std::unique_ptr<Siglip2Model> siglip2;     // kind == Siglip too: SigLIP 2 NaFlex
  std::optional<RemoteModelInfo> remote;     // a weight-less view of a server's model (load_view)

  // The decoder of a CausalLM, LLaVA, Idefics3 or Qwen2.5-VL model. Qwen2.5-VL's needs the
  // multimodal positions of its input: run it through an MropeSequence.
  const CausalLM& language_model() const {
    if (qwen_vl) return qwen_vl->language_model();
    if (idefics3) return idefics3->language_model();
    return llava ? static_cast<const CausalLM&>(llava->language_model()) : *lm;
  }
};

// Throws ModelError when `model` is a weight-less view of a server's model: every core function
// that runs the weights calls it first, so a remote model given to a local explainer or forward
// fails with a message instead of reaching a null architecture.
void require_weights(const Model& model);

}  // namespace atman

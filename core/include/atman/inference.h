// Plain forward passes for the CLI and the GUI ("what does the model say?"). No tensors here.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "atman/image.h"
#include "atman/model.h"
#include "atman/suppression.h"

namespace atman {

struct ClipForward {
  std::vector<float> image_embeds;              // projected, not normalised (empty: no image)
  std::vector<std::vector<float>> text_embeds;  // one per text, projected, not normalised
  std::vector<float> logits_per_image;          // exp(logit_scale) * cos, one per text
};

// CLIP forward of an optional image (already preprocessed) and any number of texts.
ClipForward clip_forward(const Model& model, const PixelTensor* pixels,
                         const std::vector<std::string>& texts);

struct LabelScore {
  std::string label;
  float logit = 0;
  float probability = 0;
};

// Zero-shot classification: labels ranked by logit; the probability is the softmax over the
// logits (CLIP), or each logit's sigmoid (SigLIP, trained per pair).
std::vector<LabelScore> zero_shot(const Model& model, const PixelTensor& pixels,
                                  const std::vector<std::string>& labels);

struct LmForward {
  std::vector<int64_t> ids;        // the model input (LLaVA: with <image> expanded)
  std::vector<float> last_logits;  // full vocabulary at the last position
};

// Causal LM (or LLaVA with an image) forward of `text`.
LmForward lm_forward(const Model& model, const std::string& text,
                     const PixelTensor* pixels = nullptr);

// One position of a language model's input: a prompt text token or an image token (LLaVA).
struct InputPosition {
  bool is_image = false;
  std::string text;                          // text tokens: the text the token covers
  std::pair<int64_t, int64_t> span{-1, -1};  // text tokens: code points of the prompt
  int row = -1, col = -1;                    // image tokens: patch grid position
  int view = 0;  // image tokens: 0 the (base) view's grid; 1 LLaVA-NeXT / OneVision / Idefics3
                 // tiles' grid (Idefics3's base view is its global view)
  // Image tokens: the pixels of the original image the token reads (an explanation's candidate
  // rect), when the layout was given the image's `pixels`; empty without them and for newlines.
  RectF rect;
};

// The model input positions of `prompt` (with LLaVA's <image> expanded), for steering and display.
// The number of image tokens of Qwen2.5-VL and anyres LLaVA (LLaVA-NeXT, OneVision) depends on the
// image's size: a prompt with an image needs its `pixels` (Model::preprocess or Model::input_shape;
// InputError without them). Only their size and `geometry` are read, never their values.
std::vector<InputPosition> input_layout(const Model& model, const std::string& prompt,
                                        const PixelTensor* pixels = nullptr);

// Steering (the hosted API's control): attention to `position` scaled by `factor` in every layer
// while generating; < 1 suppresses, > 1 amplifies.
struct SteeringFactor {
  int64_t position = 0;
  float factor = 1.0f;
};

struct Generation {
  std::vector<int64_t> ids;  // generated ids, without the prompt
  std::vector<std::string> tokens;
  std::string text;
};

// Greedy decoding with a KV cache until the end token or `max_new_tokens`, optionally steered.
Generation generate(const Model& model, const std::string& prompt, int max_new_tokens,
                    const PixelTensor* pixels = nullptr,
                    const std::vector<SteeringFactor>& steering = {},
                    SuppressionVariant variant = SuppressionVariant::Multiplicative);

}  // namespace atman

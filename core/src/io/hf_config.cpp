// Hugging Face config.json -> typed configs. Defaults follow the transformers configuration
// classes, because transformers leaves out of nested configs (text_config, vision_config) every
// value equal to its class default: real configs depend on those defaults. The fields that fix a
// top-level model's size are always written by transformers, so there they are required.
#include "atman/hf_config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>

#include <nlohmann/json.hpp>

#include "atman/error.h"
#include "io/messages.h"

namespace atman {
namespace {

using nlohmann::json;

// Upper bounds that no real model reaches; they catch corrupt values before they turn into
// multi-terabyte allocations.
constexpr int64_t kMaxSize = 1 << 28;
constexpr int64_t kMaxLayers = 1'000'000;

std::string type_name(const json& value) {
  if (value.is_null()) return "null";
  if (value.is_boolean()) return "a boolean";
  if (value.is_number_integer()) return "an integer";
  if (value.is_number()) return "a number";
  if (value.is_string()) return "a string";
  if (value.is_array()) return "an array";
  return "an object";
}

std::string shown(const json& value) {
  std::string text = value.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

// A view of one JSON object that knows its key path and file, so that every error can say exactly
// which field of which file is wrong.
class Fields {
 public:
  Fields(const json& object, std::string prefix, const std::string& origin)
      : object_(object), prefix_(std::move(prefix)), origin_(origin) {}

  std::string path(const std::string& key) const { return prefix_ + key; }

  [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
    throw ModelError("invalid config " + origin_ + ": '" + path(key) + "' " + problem);
  }

  // Absent and null both mean "use the default": transformers writes null for unset optionals.
  const json* find(const std::string& key) const {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }
  bool has(const std::string& key) const { return find(key) != nullptr; }
  // Present, possibly as null (null = "off" for the few keys where absence means a default).
  bool present(const std::string& key) const { return object_.find(key) != object_.end(); }

  const json& require(const std::string& key) const {
    auto it = object_.find(key);
    if (it == object_.end())
      throw ModelError("invalid config " + origin_ + ": missing required field '" + path(key) +
                       "'");
    if (it->is_null()) fail(key, "is null but must be set");
    return *it;
  }

  int64_t to_int(const std::string& key, const json& value, int64_t min, int64_t max) const {
    int64_t result = 0;
    if (value.is_number_integer()) {
      if (value.is_number_unsigned() &&
          value.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
        fail(key, "is " + shown(value) + ", which is out of range");
      result = value.get<int64_t>();
    } else if (value.is_number_float() && std::trunc(value.get<double>()) == value.get<double>() &&
               std::fabs(value.get<double>()) < 9e15) {
      result = static_cast<int64_t>(value.get<double>());  // "768.0" from a hand-edited config
    } else {
      fail(key, "must be an integer, found " + type_name(value) + " " + shown(value));
    }
    if (result < min || result > max)
      fail(key, "is " + std::to_string(result) + " but must be between " + std::to_string(min) +
                    " and " + std::to_string(max));
    return result;
  }

  // Distinct names for required and defaulted reads: overloads would let get_int(key, 1, max)
  // silently pick the wrong one.
  int require_int(const std::string& key, int64_t min = 1, int64_t max = kMaxSize) const {
    return static_cast<int>(to_int(key, require(key), min, max));
  }
  int get_int(const std::string& key, int fallback, int64_t min = 1, int64_t max = kMaxSize) const {
    const json* value = find(key);
    return value ? static_cast<int>(to_int(key, *value, min, max)) : fallback;
  }

  double get_positive_double(const std::string& key, double fallback) const {
    const json* value = find(key);
    if (!value) return fallback;
    if (!value->is_number())
      fail(key, "must be a number, found " + type_name(*value) + " " + shown(*value));
    double result = value->get<double>();
    if (!std::isfinite(result) || result <= 0)
      fail(key, "is " + shown(*value) + " but must be positive");
    return result;
  }

  bool get_bool(const std::string& key, bool fallback) const {
    const json* value = find(key);
    if (!value) return fallback;
    if (!value->is_boolean())
      fail(key, "must be true or false, found " + type_name(*value) + " " + shown(*value));
    return value->get<bool>();
  }

  std::string get_string(const std::string& key, const std::string& fallback) const {
    const json* value = find(key);
    if (!value) return fallback;
    if (!value->is_string())
      fail(key, "must be a string, found " + type_name(*value) + " " + shown(*value));
    return value->get<std::string>();
  }

  Activation get_activation(const std::string& key, Activation fallback) const {
    const json* value = find(key);
    if (!value) return fallback;
    if (!value->is_string())
      fail(key, "must be an activation name, found " + type_name(*value) + " " + shown(*value));
    try {
      return parse_activation(value->get<std::string>());
    } catch (const ModelError& e) {
      fail(key, std::string("is invalid: ") + e.what());
    }
  }

  // Token ids may be null (absent), an int, or a list (Llama 3 has several end tokens).
  std::vector<int> get_token_ids(const std::string& key) const {
    const json* value = find(key);
    if (!value) return {};
    std::vector<int> ids;
    if (value->is_array()) {
      for (const auto& id : *value) ids.push_back(static_cast<int>(to_int(key, id, 0, kMaxSize)));
    } else {
      ids.push_back(static_cast<int>(to_int(key, *value, 0, kMaxSize)));
    }
    return ids;
  }

  // A nested config object, required to be present.
  Fields object(const std::string& key) const {
    const json* value = find(key);
    if (!value) {
      auto it = object_.find(key);
      if (it == object_.end())
        throw ModelError("invalid config " + origin_ + ": missing required field '" + path(key) +
                         "'");
      fail(key, "is null but must be an object");
    }
    if (!value->is_object()) fail(key, "must be an object, found " + type_name(*value));
    return Fields(*value, path(key) + ".", origin_);
  }

  const std::string& origin() const { return origin_; }

 private:
  const json& object_;
  std::string prefix_;
  const std::string& origin_;
};

void check_heads(const Fields& fields, const std::string& hidden_key, int hidden,
                 const std::string& heads_key, int heads) {
  if (hidden % heads != 0)
    fields.fail(hidden_key, "is " + std::to_string(hidden) + ", which is not divisible by '" +
                                fields.path(heads_key) + "' = " + std::to_string(heads));
}

// Size defaults of transformers' CLIPTextConfig and CLIPVisionConfig.
struct ClipDefaults {
  int hidden_size, intermediate_size, num_hidden_layers, num_attention_heads;
};
constexpr ClipDefaults kClipTextDefaults{512, 2048, 12, 8};
constexpr ClipDefaults kClipVisionDefaults{768, 3072, 12, 12};

void parse_clip_common(const Fields& f, const ClipDefaults& d, ClipTowerConfig& c) {
  c.hidden_size = f.get_int("hidden_size", d.hidden_size);
  c.intermediate_size = f.get_int("intermediate_size", d.intermediate_size);
  c.num_hidden_layers = f.get_int("num_hidden_layers", d.num_hidden_layers, 1, kMaxLayers);
  c.num_attention_heads = f.get_int("num_attention_heads", d.num_attention_heads);
  c.hidden_act = f.get_activation("hidden_act", Activation::QuickGelu);
  c.layer_norm_eps = f.get_positive_double("layer_norm_eps", 1e-5);
  check_heads(f, "hidden_size", c.hidden_size, "num_attention_heads", c.num_attention_heads);
}

ClipTowerConfig parse_clip_text(const Fields& f) {
  ClipTowerConfig c;
  parse_clip_common(f, kClipTextDefaults, c);
  c.vocab_size = f.get_int("vocab_size", 49408);
  c.max_position_embeddings = f.get_int("max_position_embeddings", 77);
  // Configs saved before transformers 4.31 have no eos_token_id; 2 tells the model to pool at the
  // highest token id, as transformers does for them.
  c.eos_token_id = f.get_int("eos_token_id", 2, 0, kMaxSize);
  return c;
}

ClipTowerConfig parse_clip_vision(const Fields& f) {
  ClipTowerConfig c;
  parse_clip_common(f, kClipVisionDefaults, c);
  c.image_size = f.get_int("image_size", 224);
  c.patch_size = f.get_int("patch_size", 32);
  c.num_channels = f.get_int("num_channels", 3, 1, 64);
  if (c.patch_size > c.image_size || c.image_size % c.patch_size != 0)
    f.fail("image_size", "is " + std::to_string(c.image_size) + ", which is not a multiple of '" +
                             f.path("patch_size") + "' = " + std::to_string(c.patch_size));
  // Keeps the patch count (and image_seq_length's default, grid * grid) far from int overflow.
  if (c.image_size / c.patch_size > 4096)
    f.fail("image_size", "is " + std::to_string(c.image_size) + ", which with '" +
                             f.path("patch_size") + "' = " + std::to_string(c.patch_size) +
                             " makes an absurd " + std::to_string(c.image_size / c.patch_size) +
                             " patches per side");
  return c;
}

// Older CLIP configs store the towers as text_config_dict / vision_config_dict.
Fields clip_tower(const Fields& top, const std::string& key) {
  if (!top.has(key) && top.has(key + "_dict")) return top.object(key + "_dict");
  return top.object(key);
}

ClipConfig parse_clip(const Fields& top) {
  ClipConfig c;
  c.text = parse_clip_text(clip_tower(top, "text_config"));
  c.vision = parse_clip_vision(clip_tower(top, "vision_config"));
  c.projection_dim = top.get_int("projection_dim", 512);
  return c;
}

// transformers' SiglipTextConfig / SiglipVisionConfig defaults (google/siglip-base-patch16-224).
constexpr ClipDefaults kSiglipDefaults{768, 3072, 12, 12};

void parse_siglip_common(const Fields& f, ClipTowerConfig& c) {
  parse_clip_common(f, kSiglipDefaults, c);
  c.hidden_act = f.get_activation("hidden_act", Activation::GeluTanh);
  c.layer_norm_eps = f.get_positive_double("layer_norm_eps", 1e-6);
}

// SiglipModel, or with `naflex` Siglip2Model (model_type "siglip2": SiglipConfig's fields, and
// vision_config.num_patches instead of image_size).
SiglipConfig parse_siglip(const Fields& top, bool naflex) {
  SiglipConfig c;
  c.naflex = naflex;
  const Fields text = top.object("text_config"), vision = top.object("vision_config");
  const char* text_type = naflex ? "siglip2_text_model" : "siglip_text_model";
  const char* vision_type = naflex ? "siglip2_vision_model" : "siglip_vision_model";
  for (const auto& [tower, expected] :
       {std::pair{&text, text_type}, std::pair{&vision, vision_type}}) {
    const std::string type = tower->get_string("model_type", expected);
    if (type != expected)
      tower->fail("model_type", "is '" + type + "' but a SigLIP tower must be '" + expected + "'");
  }
  parse_siglip_common(text, c.text);
  c.text.vocab_size = text.get_int("vocab_size", 32000);
  c.text.max_position_embeddings = text.get_int("max_position_embeddings", 64);
  c.text.eos_token_id = text.get_int("eos_token_id", 49407, 0, kMaxSize);
  c.pad_token_id = text.get_int("pad_token_id", 1, 0, kMaxSize);
  c.projection_size = text.get_int("projection_size", c.text.hidden_size);
  parse_siglip_common(vision, c.vision);
  c.vision.patch_size = vision.get_int("patch_size", 16);
  c.vision.num_channels = vision.get_int("num_channels", 3, 1, 64);
  if (naflex) {
    // Siglip2VisionEmbeddings reshapes the num_patches position embeddings to a square grid.
    c.num_patches = vision.get_int("num_patches", 256, 1, 4096 * 4096);
    const int side = static_cast<int>(std::lround(std::sqrt(double(c.num_patches))));
    if (side * side != c.num_patches)
      vision.fail("num_patches", "is " + std::to_string(c.num_patches) +
                                     ", not a square number; the position embeddings are a "
                                     "square grid");
    c.vision.image_size = side * c.vision.patch_size;  // the grid the position table was made for
    if (!vision.get_bool("vision_use_head", true))
      vision.fail("vision_use_head", "is false; zero-shot SigLIP 2 needs the pooling head");
    return c;
  }
  c.vision.image_size = vision.get_int("image_size", 224);
  // Not necessarily a multiple: so400m-patch14-384 has 27 x 27 patches (the conv drops the last 6
  // pixels; HF's num_patches = (image_size // patch_size) ** 2).
  if (c.vision.patch_size > c.vision.image_size)
    vision.fail("image_size", "is " + std::to_string(c.vision.image_size) + ", smaller than '" +
                                  vision.path("patch_size") +
                                  "' = " + std::to_string(c.vision.patch_size));
  if (c.vision.image_size / c.vision.patch_size > 4096)
    vision.fail("image_size", "makes more than 4096 patches per side");
  // Without the attention-pooling head SiglipModel has no image embedding to compare.
  if (!vision.get_bool("vision_use_head", true))
    vision.fail("vision_use_head", "is false; zero-shot SigLIP needs the pooling head");
  return c;
}

Gpt2Config parse_gpt2(const Fields& f) {
  Gpt2Config c;
  c.vocab_size = f.require_int("vocab_size");
  c.n_positions = f.require_int("n_positions");
  c.n_embd = f.require_int("n_embd");
  c.n_layer = f.require_int("n_layer", 1, kMaxLayers);
  c.n_head = f.require_int("n_head");
  check_heads(f, "n_embd", c.n_embd, "n_head", c.n_head);
  c.n_inner = f.get_int("n_inner", 4 * c.n_embd);
  c.activation = f.get_activation("activation_function", Activation::GeluTanh);
  c.layer_norm_epsilon = f.get_positive_double("layer_norm_epsilon", 1e-5);
  c.scale_attn_weights = f.get_bool("scale_attn_weights", true);
  c.scale_attn_by_inverse_layer_idx = f.get_bool("scale_attn_by_inverse_layer_idx", false);
  auto eos = f.get_token_ids("eos_token_id");
  c.eos_token_id = eos.empty() ? 50256 : eos.front();
  return c;
}

// --- RoPE: rope_scaling (v4 configs) and rope_parameters (v5) ---------------------------------

std::vector<double> get_number_list(const Fields& f, const std::string& key) {
  const json* value = f.find(key);
  if (!value) return {};
  if (!value->is_array()) f.fail(key, "must be a list of numbers, found " + type_name(*value));
  std::vector<double> out;
  for (const auto& x : *value) {
    if (!x.is_number() || !std::isfinite(x.get<double>()) || x.get<double>() <= 0)
      f.fail(key, "must hold positive numbers, found " + shown(x));
    out.push_back(x.get<double>());
  }
  return out;
}

// One RoPE parameter object: {"rope_type"|"type": ..., "factor": ..., ...}. Keys follow
// transformers' modeling_rope_utils; the required ones of each type are checked.
RopeScaling parse_rope_scaling(const Fields& r, bool phi3) {
  RopeScaling s;
  s.type = r.get_string("rope_type", r.get_string("type", "default"));
  // Phi3Config renames an old "type": "su" (or "yarn") to longrope; "rope_type" is left alone.
  if (phi3 && !r.has("rope_type") && (s.type == "su" || s.type == "yarn")) s.type = "longrope";
  static const char* const kTypes[] = {"default", "linear",   "dynamic",
                                       "yarn",    "longrope", "llama3"};
  if (std::find(std::begin(kTypes), std::end(kTypes), s.type) == std::end(kTypes))
    r.fail("rope_type", "is '" + s.type +
                            "', which is not supported (supported: default, linear, dynamic, yarn, "
                            "longrope, llama3)");
  const bool needs_factor =
      s.type == "linear" || s.type == "dynamic" || s.type == "yarn" || s.type == "llama3";
  if (needs_factor && !r.has("factor")) r.require("factor");
  s.factor = r.get_positive_double("factor", 0.0);
  s.original_max_position_embeddings = r.get_int("original_max_position_embeddings", 0);
  if (s.type == "llama3") {
    r.require("low_freq_factor");
    r.require("high_freq_factor");
    r.require("original_max_position_embeddings");
    s.low_freq_factor = r.get_positive_double("low_freq_factor", 1.0);
    s.high_freq_factor = r.get_positive_double("high_freq_factor", 4.0);
    if (s.high_freq_factor <= s.low_freq_factor)
      r.fail("high_freq_factor", "must be larger than low_freq_factor");
  }
  s.attention_factor = r.get_positive_double("attention_factor", 0.0);
  s.beta_fast = r.get_positive_double("beta_fast", 32.0);
  s.beta_slow = r.get_positive_double("beta_slow", 1.0);
  s.mscale = r.get_positive_double("mscale", 0.0);
  s.mscale_all_dim = r.get_positive_double("mscale_all_dim", 0.0);
  s.truncate = r.get_bool("truncate", true);
  if (s.type == "longrope") {
    r.require("short_factor");
    r.require("long_factor");
    s.short_factor = get_number_list(r, "short_factor");
    s.long_factor = get_number_list(r, "long_factor");
  }
  return s;
}

// Is this rope_parameters object keyed by layer type (v5 Gemma 3: full_attention /
// sliding_attention) rather than one set of parameters?
bool per_layer_type(const json& params) {
  return params.contains("full_attention") || params.contains("sliding_attention");
}

// Reads RoPE from either format into c.rope_theta / c.rope_scaling / c.rope_local_theta /
// c.partial_rotary_factor (the latter may sit at the top level or, in v5, inside the parameters).
void parse_rope(const Fields& f, const std::string& model_type, LlamaConfig& c) {
  const bool phi3 = model_type == "phi3", gemma3 = model_type == "gemma3_text";
  c.rope_theta = f.get_positive_double("rope_theta", gemma3 ? 1'000'000.0 : 10000.0);
  c.partial_rotary_factor = f.get_positive_double("partial_rotary_factor", 1.0);
  if (gemma3) c.rope_local_theta = f.get_positive_double("rope_local_base_freq", 10000.0);
  auto read = [&](const Fields& r) {
    c.rope_scaling = parse_rope_scaling(r, phi3);
    c.rope_theta = r.get_positive_double("rope_theta", c.rope_theta);
    c.partial_rotary_factor =
        r.get_positive_double("partial_rotary_factor", c.partial_rotary_factor);
  };
  if (const json* params = f.find("rope_parameters")) {
    if (!params->is_object())
      f.fail("rope_parameters", "must be an object, found " + type_name(*params));
    const Fields p = f.object("rope_parameters");
    if (per_layer_type(*params)) {
      if (p.has("full_attention")) read(p.object("full_attention"));
      if (p.has("sliding_attention")) {
        const Fields local = p.object("sliding_attention");
        const RopeScaling s = parse_rope_scaling(local, phi3);
        if (s.type != "default")
          local.fail("rope_type", "is '" + s.type + "'; sliding layers support plain RoPE only");
        c.rope_local_theta = local.get_positive_double("rope_theta", c.rope_local_theta);
      }
    } else {
      read(p);
    }
  } else if (const json* scaling = f.find("rope_scaling")) {
    if (!scaling->is_object())
      f.fail("rope_scaling", "must be an object, found " + type_name(*scaling));
    c.rope_scaling = parse_rope_scaling(f.object("rope_scaling"), phi3);
  }
  if (c.partial_rotary_factor > 1.0) f.fail("partial_rotary_factor", "must be at most 1");
  const int rotary = static_cast<int>(c.head_dim * c.partial_rotary_factor);
  if (rotary < 2 || rotary % 2 != 0)
    f.fail("partial_rotary_factor", "gives " + std::to_string(rotary) +
                                        " rotary dimensions, which must be even and positive");
  // Phi-3 keeps the pretraining length at the top level; others inside the RoPE parameters.
  c.original_max_position_embeddings = f.get_int("original_max_position_embeddings", 0);
  const RopeScaling& s = c.rope_scaling;
  if (s.type == "longrope" &&
      (s.short_factor.size() != size_t(rotary / 2) || s.long_factor.size() != size_t(rotary / 2)))
    f.fail("rope_scaling", "longrope short_factor and long_factor need " +
                               std::to_string(rotary / 2) + " values each (rotary dims / 2)");
}

// --- Sliding windows -------------------------------------------------------------------------

// `sliding_window` where null means "no window" and absence means the class default.
int get_window(const Fields& f, int fallback) {
  auto it_null = f.find("sliding_window");
  if (it_null) return static_cast<int>(f.to_int("sliding_window", *it_null, 1, kMaxSize));
  return f.present("sliding_window") ? 0 : fallback;
}

// Which layers slide, exactly as each transformers configuration class sets layer_types.
void parse_sliding(const Fields& f, const std::string& type, LlamaConfig& c) {
  const int L = c.num_hidden_layers;
  c.sliding_layers.assign(L, false);
  if (type == "mistral" || type == "phi3") {
    // MistralModel / Phi3Model: one window on every layer when sliding_window is set.
    c.sliding_window = get_window(f, type == "mistral" ? 4096 : 0);
    c.sliding_layers.assign(L, c.sliding_window > 0);
    return;
  }
  if (type == "qwen2" || type == "qwen3") {
    // sliding_window = sliding_window if use_sliding_window else None; layer i slides when a window
    // is set and i >= max_window_layers.
    const bool use = f.get_bool("use_sliding_window", false);
    const int window = get_window(f, 4096);
    c.sliding_window = use ? window : 0;
    const int max_window_layers = f.get_int("max_window_layers", 28, 0, kMaxLayers);
    for (int i = 0; i < L; ++i)
      c.sliding_layers[i] = c.sliding_window > 0 && i >= max_window_layers;
  } else if (type == "gemma2" || type == "gemma3_text") {
    // Gemma 2: even layers slide ((i + 1) % 2); Gemma 3: all but every 6th ((i + 1) % pattern).
    c.sliding_window = get_window(f, 4096);
    const int pattern =
        type == "gemma2" ? 2 : f.get_int("sliding_window_pattern", 6, 1, kMaxLayers);
    for (int i = 0; i < L; ++i) c.sliding_layers[i] = (i + 1) % pattern != 0;
  } else {
    return;  // Llama, OLMo 2: full attention everywhere
  }
  if (const json* types = f.find("layer_types")) {
    if (!types->is_array() || static_cast<int>(types->size()) != L)
      f.fail("layer_types", "must list one type per layer (" + std::to_string(L) + ")");
    for (int i = 0; i < L; ++i) {
      const json& t = (*types)[i];
      if (t != "full_attention" && t != "sliding_attention")
        f.fail("layer_types",
               "holds " + shown(t) + "; supported: \"full_attention\", \"sliding_attention\"");
      c.sliding_layers[i] = t == "sliding_attention";
    }
  }
}

// Value of a float field where null means "off" (0) and absence means the class default.
double get_optional_positive(const Fields& f, const std::string& key, double fallback) {
  if (f.has(key)) return f.get_positive_double(key, fallback);
  return f.present(key) ? 0.0 : fallback;
}

// Class defaults of the transformers configurations, used where a nested text_config leaves a
// size out (top-level configs must state them).
struct FamilyDefaults {
  const char* architecture;
  int vocab, hidden, intermediate, layers, heads, kv_heads /*0 = heads*/, head_dim /*0 = C/H*/;
  int positions;
  double rms_norm_eps;
  bool tie;
  int bos, eos;  // -1 = none
};

const FamilyDefaults& family_defaults(const std::string& type) {
  static const std::map<std::string, FamilyDefaults> all = {
      {"llama", {"Llama", 32000, 4096, 11008, 32, 32, 0, 0, 2048, 1e-6, false, 1, 2}},
      {"qwen2", {"Qwen2", 151936, 4096, 22016, 32, 32, 0, 0, 32768, 1e-6, false, -1, -1}},
      {"qwen3", {"Qwen3", 151936, 4096, 22016, 32, 32, 0, 128, 32768, 1e-6, false, -1, -1}},
      {"mistral", {"Mistral", 32000, 4096, 14336, 32, 32, 8, 0, 4096 * 32, 1e-6, false, 1, 2}},
      {"gemma", {"Gemma", 256000, 3072, 24576, 28, 16, 16, 256, 8192, 1e-6, true, 2, 1}},
      {"gemma2", {"Gemma 2", 256000, 2304, 9216, 26, 8, 4, 256, 8192, 1e-6, true, 2, 1}},
      {"gemma3_text", {"Gemma 3", 262208, 2304, 9216, 26, 8, 4, 256, 131072, 1e-6, true, 2, 1}},
      {"phi3", {"Phi-3", 32064, 3072, 8192, 32, 32, 0, 0, 4096, 1e-5, false, 1, 32000}},
      {"olmo2", {"OLMo 2", 50304, 4096, 11008, 32, 32, 0, 0, 2048, 1e-5, false, -1, 50279}},
  };
  return all.at(type);
}

// `required` is true for a top-level config (transformers always writes the size fields there)
// and false for LLaVA's text_config, where fields equal to the class defaults are left out.
LlamaConfig parse_llama(const Fields& f, const std::string& model_type, bool required) {
  LlamaConfig c;
  c.model_type = model_type;
  const FamilyDefaults& d = family_defaults(model_type);
  c.architecture = d.architecture;
  const bool qwen2 = model_type == "qwen2";
  const bool gemma1 = model_type == "gemma";
  const bool gemma = model_type == "gemma2" || model_type == "gemma3_text";
  auto size = [&](const std::string& key, int fallback, int64_t max = kMaxSize) {
    return required ? f.require_int(key, 1, max) : f.get_int(key, fallback, 1, max);
  };
  c.vocab_size = size("vocab_size", d.vocab);
  c.hidden_size = size("hidden_size", d.hidden);
  c.intermediate_size = size("intermediate_size", d.intermediate);
  c.num_hidden_layers = size("num_hidden_layers", d.layers, kMaxLayers);
  c.num_attention_heads = size("num_attention_heads", d.heads);
  c.num_key_value_heads =
      f.get_int("num_key_value_heads", d.kv_heads ? d.kv_heads : c.num_attention_heads);
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    f.fail("num_attention_heads",
           "is " + std::to_string(c.num_attention_heads) + ", which is not a multiple of '" +
               f.path("num_key_value_heads") + "' = " + std::to_string(c.num_key_value_heads));
  if (f.has("head_dim") || d.head_dim) {
    // May differ from hidden/heads (the attention output is projected back to hidden_size).
    c.head_dim = f.get_int("head_dim", d.head_dim);
  } else {
    check_heads(f, "hidden_size", c.hidden_size, "num_attention_heads", c.num_attention_heads);
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  if (c.head_dim % 2 != 0)
    f.fail("head_dim",
           "is " + std::to_string(c.head_dim) + " but rotary embeddings need an even head size");
  // Gemma's MLP reads hidden_activation (hidden_act is a leftover of Gemma 1). GemmaMLP ignores
  // hidden_act altogether: without hidden_activation it is gelu_pytorch_tanh.
  c.hidden_act = gemma1  ? f.get_activation("hidden_activation", Activation::GeluTanh)
                 : gemma ? f.get_activation("hidden_activation",
                                            f.get_activation("hidden_act", Activation::GeluTanh))
                         : f.get_activation("hidden_act", Activation::Silu);
  c.rms_norm_eps = f.get_positive_double("rms_norm_eps", d.rms_norm_eps);
  parse_rope(f, model_type, c);
  c.max_position_embeddings = f.get_int("max_position_embeddings", d.positions);
  c.tie_word_embeddings = f.get_bool("tie_word_embeddings", d.tie);
  // Biases as each attention class builds its projections: Qwen2 always has q/k/v biases and no
  // o_proj bias; Mistral and Phi-3 have none; the others put attention_bias on q, k, v and o.
  const bool attention_bias = f.get_bool("attention_bias", false);
  if (qwen2) {
    c.attention_bias = true;
  } else if (model_type != "mistral" && model_type != "phi3") {
    c.attention_bias = c.o_proj_bias = attention_bias;
  }
  c.mlp_bias = model_type == "llama" && f.get_bool("mlp_bias", false);
  c.fused_projections = model_type == "phi3";
  if (model_type == "qwen3" || model_type == "gemma3_text") c.qk_norm = QkNorm::PerHead;
  if (model_type == "olmo2") {
    c.qk_norm = QkNorm::FullWidth;
    c.block_norms = BlockNorms::Post;
  }
  if (gemma1) {
    // GemmaDecoderLayer: Llama's two pre-norms, but (1 + w) RMSNorm and scaled embeddings; the
    // scores are scaled by head_dim^-1/2 (no query_pre_attn_scalar, no soft caps, no window).
    c.gemma_norms = true;
    c.scale_embeddings = true;
  }
  if (gemma) {
    c.block_norms = BlockNorms::Sandwich;
    c.gemma_norms = true;
    c.scale_embeddings = true;
    c.query_pre_attn_scalar = f.get_positive_double("query_pre_attn_scalar", 256.0);
    const bool gemma2 = model_type == "gemma2";
    c.attn_logit_softcapping =
        get_optional_positive(f, "attn_logit_softcapping", gemma2 ? 50.0 : 0.0);
    c.final_logit_softcapping =
        get_optional_positive(f, "final_logit_softcapping", gemma2 ? 30.0 : 0.0);
  }
  parse_sliding(f, model_type, c);
  auto eos = f.get_token_ids("eos_token_id");
  c.eos_token_ids = eos;
  c.eos_token_id = eos.empty() ? d.eos : eos.front();
  auto bos = f.get_token_ids("bos_token_id");
  c.bos_token_id = bos.empty() ? d.bos : bos.front();
  return c;
}

bool is_llama_family(const std::string& type) {
  return type == "llama" || type == "qwen2" || type == "qwen3" || type == "mistral" ||
         type == "gemma" || type == "gemma2" || type == "gemma3_text" || type == "phi3" ||
         type == "olmo2";
}

// transformers' SiglipVisionConfig as LLaVA nests it: the pooling head (vision_use_head) is never
// used, because LLaVA reads hidden states.
ClipTowerConfig parse_siglip_vision(const Fields& vision) {
  ClipTowerConfig c;
  parse_siglip_common(vision, c);
  c.image_size = vision.get_int("image_size", 224);
  c.patch_size = vision.get_int("patch_size", 16);
  c.num_channels = vision.get_int("num_channels", 3, 1, 64);
  // 384 / 14 leaves 6 pixels no patch reads (27 x 27 patches), as in transformers.
  if (c.patch_size > c.image_size)
    vision.fail("image_size", "is " + std::to_string(c.image_size) + ", smaller than '" +
                                  vision.path("patch_size") +
                                  "' = " + std::to_string(c.patch_size));
  if (c.image_size / c.patch_size > 4096)
    vision.fail("image_size", "makes more than 4096 patches per side");
  return c;
}

// LlavaOnevisionConfig's default image_grid_pinpoints: every (h, w) in multiples of 384 up to 2304
// (6 x 6 tiles), h outer.
std::vector<std::pair<int, int>> onevision_default_pinpoints() {
  std::vector<std::pair<int, int>> out;
  for (int h = 1; h <= 6; ++h)
    for (int w = 1; w <= 6; ++w) out.emplace_back(384 * h, 384 * w);
  return out;
}

std::vector<std::pair<int, int>> parse_pinpoints(const Fields& top, const std::string& type,
                                                 int tile) {
  std::vector<std::pair<int, int>> out;
  if (const json* points = top.find("image_grid_pinpoints")) {
    if (!points->is_array() || points->empty())
      top.fail("image_grid_pinpoints", "must be a non-empty list of [height, width] pairs");
    for (const json& p : *points) {
      if (!p.is_array() || p.size() != 2)
        top.fail("image_grid_pinpoints", "holds " + shown(p) + ", not a [height, width] pair");
      const int h = static_cast<int>(top.to_int("image_grid_pinpoints", p[0], 1, 1 << 16));
      const int w = static_cast<int>(top.to_int("image_grid_pinpoints", p[1], 1, 1 << 16));
      out.emplace_back(h, w);
    }
  } else if (type == "llava_onevision") {
    out = onevision_default_pinpoints();
  } else {  // LlavaNextConfig's default
    out = {{336, 672}, {672, 336}, {672, 672}, {1008, 336}, {336, 1008}};
  }
  // The model reshapes each resolution's tiles into a (h / tile) x (w / tile) grid.
  for (const auto& [h, w] : out)
    if (h % tile != 0 || w % tile != 0)
      top.fail("image_grid_pinpoints",
               "holds [" + std::to_string(h) + ", " + std::to_string(w) +
                   "], which is not a multiple of the vision tower's image_size " +
                   std::to_string(tile));
  return out;
}

// LlavaConfig, LlavaNextConfig and LlavaOnevisionConfig: the same fields, other defaults.
LlavaConfig parse_llava(const Fields& top, const std::string& type) {
  LlavaConfig c;
  c.model_type = type;
  const bool onevision = type == "llava_onevision";
  Fields vision = top.object("vision_config");
  std::string vision_type =
      vision.get_string("model_type", onevision ? "siglip_vision_model" : "clip_vision_model");
  if (vision_type == "clip_vision_model") {
    c.vision_type = LlavaVision::Clip;
    c.vision = parse_clip_vision(vision);
  } else if (vision_type == "siglip_vision_model") {
    c.vision_type = LlavaVision::Siglip;
    c.vision = parse_siglip_vision(vision);
  } else {
    vision.fail("model_type", "is '" + vision_type +
                                  "'; supported vision towers: clip_vision_model, "
                                  "siglip_vision_model");
  }

  Fields text = top.object("text_config");
  // transformers' defaults: Llama for llava / llava_next, Qwen2 for llava_onevision.
  std::string text_type = text.get_string("model_type", onevision ? "qwen2" : "llama");
  if (!is_llama_family(text_type))
    text.fail("model_type", "is '" + text_type +
                                "'; supported language models: llama, qwen2, qwen3, mistral, "
                                "gemma, gemma2, gemma3_text, phi3, olmo2");
  c.text = parse_llama(text, text_type, /*required=*/false);
  // The top-level flag is what transformers reads when tying the language model head.
  c.text.tie_word_embeddings = top.get_bool("tie_word_embeddings", c.text.tie_word_embeddings);

  c.image_token_index = top.get_int("image_token_index", onevision ? 151646 : 32000, 0, kMaxSize);
  const int layers = c.vision.num_hidden_layers;
  c.vision_feature_layers.clear();
  const json* layer = top.find("vision_feature_layer");
  if (layer && layer->is_array()) {
    // LlavaModel.get_image_features: the listed hidden states concatenated along features.
    if (layer->empty()) top.fail("vision_feature_layer", "is an empty list");
    for (const json& l : *layer)
      c.vision_feature_layers.push_back(
          static_cast<int>(top.to_int("vision_feature_layer", l, -layers - 1, layers)));
  } else {
    c.vision_feature_layers.push_back(
        top.get_int("vision_feature_layer", onevision ? -1 : -2, -layers - 1, layers));
  }
  c.vision_feature_select_strategy =
      top.get_string("vision_feature_select_strategy", onevision ? "full" : "default");
  if (c.vision_feature_select_strategy != "default" && c.vision_feature_select_strategy != "full")
    top.fail("vision_feature_select_strategy",
             "is '" + c.vision_feature_select_strategy + "' but must be \"default\" or \"full\"");
  c.projector_hidden_act = top.get_activation("projector_hidden_act", Activation::Gelu);
  c.projector_bias = top.get_bool("multimodal_projector_bias", true);
  const int grid = c.vision.image_size / c.vision.patch_size;
  c.image_seq_length = top.get_int("image_seq_length", grid * grid);
  if (c.anyres()) {
    c.image_grid_pinpoints = parse_pinpoints(top, type, c.vision.image_size);
    if (onevision) {
      const std::string ratio = top.get_string("vision_aspect_ratio", "anyres_max_9");
      // pack_image_features parses int(vision_aspect_ratio.strip("anyres_max_")).
      const std::string prefix = "anyres_max_";
      int tiles = 0;
      if (ratio.rfind(prefix, 0) == 0) {
        try {
          tiles = std::stoi(ratio.substr(prefix.size()));
        } catch (const std::exception&) {
          tiles = 0;
        }
      }
      if (tiles < 1)
        top.fail("vision_aspect_ratio", "is '" + ratio + "'; supported: \"anyres_max_N\", N >= 1");
      c.anyres_max_tiles = tiles;
    }
  }
  return c;
}

// PaliGemmaConfig: a SigLIP tower (SiglipVisionConfig of so400m by default) and a Gemma text model
// (GemmaConfig of gemma-2b by default; PaliGemma 2: gemma2), with PaliGemmaConfig's defaults.
// The top-level hidden_size is a leftover (2048 even in PaliGemma 2 with its 2304-wide Gemma 2):
// the model divides image features by sqrt(text_config.hidden_size), so it is not read.
LlavaConfig parse_paligemma(const Fields& top) {
  LlavaConfig c;
  c.model_type = "paligemma";
  c.vision_type = LlavaVision::Siglip;
  const Fields vision = top.object("vision_config");
  const std::string vision_type = vision.get_string("model_type", "siglip_vision_model");
  if (vision_type != "siglip_vision_model")
    vision.fail("model_type", "is '" + vision_type + "'; PaliGemma's tower is siglip_vision_model");
  c.vision = parse_siglip_vision(vision);
  const Fields text = top.object("text_config");
  const std::string text_type = text.get_string("model_type", "gemma");
  if (text_type != "gemma" && text_type != "gemma2")
    text.fail("model_type", "is '" + text_type +
                                "'; PaliGemma's language models are gemma (PaliGemma) and gemma2 "
                                "(PaliGemma 2)");
  c.text = parse_llama(text, text_type, /*required=*/false);
  c.text.tie_word_embeddings = top.get_bool("tie_word_embeddings", c.text.tie_word_embeddings);
  // PaliGemmaForConditionalGeneration: position_ids = cache_position + 1.
  c.text.position_offset = 1;
  // The top level holds the ids the processor and generation use (text_config may leave them out).
  if (auto bos = top.get_token_ids("bos_token_id"); !bos.empty()) c.text.bos_token_id = bos.front();
  if (auto eos = top.get_token_ids("eos_token_id"); !eos.empty()) {
    c.text.eos_token_ids = eos;
    c.text.eos_token_id = eos.front();
  }
  if (c.text.bos_token_id < 0 || c.text.bos_token_id >= c.text.vocab_size)
    top.fail("bos_token_id", "is " + std::to_string(c.text.bos_token_id) +
                                 ", which is not a token of the " +
                                 std::to_string(c.text.vocab_size) + "-token vocabulary");
  // image_token_id is the attribute_map alias newer configs may be written with.
  c.image_token_index = top.get_int(
      "image_token_index", top.get_int("image_token_id", 256000, 0, kMaxSize), 0, kMaxSize);
  c.projection_dim = top.get_int("projection_dim", 2048);
  if (c.projection_dim != c.text.hidden_size)
    top.fail("projection_dim", "is " + std::to_string(c.projection_dim) +
                                   " but the image features replace token embeddings of the "
                                   "language model's hidden_size " +
                                   std::to_string(c.text.hidden_size));
  // get_image_features reads the tower's last_hidden_state (after post_layernorm), every patch.
  c.vision_feature_layers = {-1};
  c.vision_feature_select_strategy = "full";
  const int grid = c.vision.image_size / c.vision.patch_size;
  c.image_seq_length = grid * grid;  // text_config.num_image_tokens, as the config sets it
  return c;
}

// The vision tower of Qwen2.5-VL, with Qwen2_5_VLVisionConfig's defaults (older configs name
// in_channels "in_chans").
Qwen2_5_VLVisionConfig parse_qwen2_5_vl_vision(const Fields& f) {
  Qwen2_5_VLVisionConfig c;
  c.depth = f.get_int("depth", c.depth, 1, kMaxLayers);
  c.hidden_size = f.get_int("hidden_size", c.hidden_size);
  c.intermediate_size = f.get_int("intermediate_size", c.intermediate_size);
  c.num_heads = f.get_int("num_heads", c.num_heads);
  c.in_channels = f.get_int("in_channels", f.get_int("in_chans", 3, 1, 64), 1, 64);
  c.patch_size = f.get_int("patch_size", c.patch_size, 1, 4096);
  c.spatial_merge_size = f.get_int("spatial_merge_size", c.spatial_merge_size, 1, 64);
  c.temporal_patch_size = f.get_int("temporal_patch_size", c.temporal_patch_size, 1, 64);
  c.window_size = f.get_int("window_size", c.window_size);
  c.out_hidden_size = f.get_int("out_hidden_size", c.out_hidden_size);
  c.tokens_per_second = f.get_int("tokens_per_second", c.tokens_per_second, 0, kMaxSize);
  c.hidden_act = f.get_activation("hidden_act", Activation::Silu);
  if (f.has("fullatt_block_indexes")) {
    const json& list = *f.find("fullatt_block_indexes");
    if (!list.is_array()) f.fail("fullatt_block_indexes", "must be a list of block indexes");
    c.fullatt_block_indexes.clear();
    for (const auto& i : list)
      c.fullatt_block_indexes.push_back(
          static_cast<int>(f.to_int("fullatt_block_indexes", i, 0, c.depth - 1)));
  }
  check_heads(f, "hidden_size", c.hidden_size, "num_heads", c.num_heads);
  // 2-D RoPE: a quarter of each head's dims rotates with the row, a quarter with the column.
  if ((c.hidden_size / c.num_heads) % 4 != 0)
    f.fail("num_heads", "gives a head size of " + std::to_string(c.hidden_size / c.num_heads) +
                            ", which the 2-D rotary embedding needs divisible by 4");
  const int unit = c.patch_size * c.spatial_merge_size;
  if (c.window_size < unit || c.window_size % unit != 0)
    f.fail("window_size", "is " + std::to_string(c.window_size) +
                              " but must be a multiple of patch_size * spatial_merge_size (" +
                              std::to_string(unit) + ")");
  return c;
}

// Qwen2.5-VL. The text fields sit at the top level (configs written before transformers 4.52) or
// in text_config (newer ones). The multimodal RoPE is rope_scaling {"type": "mrope",
// "mrope_section": [t, h, w]} (rope_parameters in v5): transformers runs it as default RoPE whose
// frequency pairs follow the temporal, height and width positions by section.
Qwen2_5_VLConfig parse_qwen2_5_vl(const Fields& top, const json& root) {
  Qwen2_5_VLConfig c;
  c.vision = parse_qwen2_5_vl_vision(top.object("vision_config"));
  const json* nested = root.contains("text_config") && root["text_config"].is_object() &&
                               root["text_config"].contains("hidden_size")
                           ? &root["text_config"]
                           : nullptr;
  json text = nested ? *nested : root;
  text.erase("vision_config");
  text.erase("text_config");
  if (!text.contains("rope_theta")) text["rope_theta"] = 1'000'000.0;  // Qwen2_5_VLTextConfig
  std::vector<int> section;
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    if (!text.contains(key) || !text[key].is_object()) continue;
    json& rope = text[key];
    if (rope.contains("mrope_section")) {
      const json& list = rope["mrope_section"];
      if (!list.is_array() || list.size() != 3)
        top.fail(std::string(key) + ".mrope_section", "must list 3 numbers (t, h, w)");
      for (const auto& n : list) {
        if (!n.is_number_integer() || n.get<int>() < 0)
          top.fail(std::string(key) + ".mrope_section", "must hold non-negative integers");
        section.push_back(n.get<int>());
      }
      rope.erase("mrope_section");
    }
    for (const char* type : {"type", "rope_type"})
      if (rope.contains(type) && rope[type] == "mrope") rope[type] = "default";
  }
  const std::string prefix = nested ? "text_config." : "";
  const Fields text_fields(text, prefix, top.origin());
  c.text = parse_llama(text_fields, "qwen2", /*required=*/nested == nullptr);
  c.text.model_type = "qwen2_5_vl";
  c.text.architecture = "Qwen2.5-VL";
  c.text.tie_word_embeddings = top.get_bool("tie_word_embeddings", c.text.tie_word_embeddings);
  if (section.empty()) top.fail("rope_scaling", "has no mrope_section, which Qwen2.5-VL needs");
  int sum = 0;
  for (int n : section) sum += n;
  if (sum * 2 != c.text.head_dim)
    top.fail("rope_scaling.mrope_section", "sums to " + std::to_string(sum) +
                                               " but must be half the head size (" +
                                               std::to_string(c.text.head_dim / 2) + ")");
  c.text.mrope_section = section;
  if (c.vision.out_hidden_size != c.text.hidden_size)
    top.fail("vision_config.out_hidden_size",
             "is " + std::to_string(c.vision.out_hidden_size) +
                 " but must equal the language model's hidden_size (" +
                 std::to_string(c.text.hidden_size) + ")");
  c.image_token_id = top.get_int("image_token_id", c.image_token_id, 0, kMaxSize);
  c.video_token_id = top.get_int("video_token_id", c.video_token_id, 0, kMaxSize);
  c.vision_start_token_id =
      top.get_int("vision_start_token_id", c.vision_start_token_id, 0, kMaxSize);
  c.vision_end_token_id = top.get_int("vision_end_token_id", c.vision_end_token_id, 0, kMaxSize);
  return c;
}

// Idefics3Config (and SmolVLMConfig, its subclass): Idefics3VisionConfig's defaults for the tower
// (a SigLIP encoder with post_layernorm and no head), a Llama text model by default, the top-level
// image_token_id and scale_factor of the pixel shuffle.
Idefics3Config parse_idefics3(const Fields& top, const std::string& type) {
  Idefics3Config c;
  c.model_type = type;
  Fields vision = top.object("vision_config");
  parse_clip_common(vision, ClipDefaults{1152, 3072, 12, 16}, c.vision);
  c.vision.hidden_act = vision.get_activation("hidden_act", Activation::GeluTanh);
  c.vision.layer_norm_eps = vision.get_positive_double("layer_norm_eps", 1e-6);
  c.vision.image_size = vision.get_int("image_size", 224);
  c.vision.patch_size = vision.get_int("patch_size", 32);
  c.vision.num_channels = vision.get_int("num_channels", 3, 1, 64);
  if (c.vision.patch_size > c.vision.image_size)
    vision.fail("image_size", "is " + std::to_string(c.vision.image_size) + ", smaller than '" +
                                  vision.path("patch_size") +
                                  "' = " + std::to_string(c.vision.patch_size));
  Fields text = top.object("text_config");
  const std::string text_type = text.get_string("model_type", "llama");
  if (!is_llama_family(text_type))
    text.fail("model_type", "is '" + text_type +
                                "'; supported language models: llama, qwen2, qwen3, mistral, "
                                "gemma2, gemma3_text, phi3, olmo2");
  c.text = parse_llama(text, text_type, /*required=*/false);
  c.text.tie_word_embeddings = top.get_bool("tie_word_embeddings", c.text.tie_word_embeddings);
  c.image_token_id = top.get_int("image_token_id", c.image_token_id, 0, kMaxSize);
  c.scale_factor = top.get_int("scale_factor", c.scale_factor, 1, 64);
  // The connector's pixel shuffle reshapes each view's square patch grid into scale_factor x
  // scale_factor blocks: the grid must divide.
  const int grid = c.vision.image_size / c.vision.patch_size;
  if (grid % c.scale_factor != 0)
    top.fail("scale_factor", "is " + std::to_string(c.scale_factor) +
                                 ", which does not divide the " + std::to_string(grid) +
                                 "-patch grid of the vision tower");
  return c;
}

// Names a config by its "architectures" entry when "model_type" is missing (very old configs).
std::string type_from_architectures(const Fields& top) {
  const json* archs = top.find("architectures");
  if (!archs || !archs->is_array() || archs->empty() || !(*archs)[0].is_string()) return "";
  const std::string arch = (*archs)[0].get<std::string>();
  if (arch == "CLIPModel") return "clip";
  if (arch == "SiglipModel") return "siglip";
  if (arch == "Siglip2Model") return "siglip2";
  if (arch == "GPT2LMHeadModel") return "gpt2";
  if (arch == "LlamaForCausalLM") return "llama";
  if (arch == "Qwen2ForCausalLM") return "qwen2";
  if (arch == "MistralForCausalLM") return "mistral";
  if (arch == "Qwen3ForCausalLM") return "qwen3";
  if (arch == "GemmaForCausalLM") return "gemma";
  if (arch == "Gemma2ForCausalLM") return "gemma2";
  if (arch == "Gemma3ForCausalLM") return "gemma3_text";
  if (arch == "Phi3ForCausalLM") return "phi3";
  if (arch == "Olmo2ForCausalLM") return "olmo2";
  if (arch == "LlavaForConditionalGeneration") return "llava";
  if (arch == "LlavaNextForConditionalGeneration") return "llava_next";
  if (arch == "LlavaOnevisionForConditionalGeneration") return "llava_onevision";
  if (arch == "Qwen2_5_VLForConditionalGeneration") return "qwen2_5_vl";
  if (arch == "PaliGemmaForConditionalGeneration") return "paligemma";
  if (arch == "Idefics3ForConditionalGeneration") return "idefics3";
  if (arch == "SmolVLMForConditionalGeneration") return "smolvlm";
  return arch;
}

}  // namespace

Activation parse_activation(const std::string& name) {
  if (name == "quick_gelu") return Activation::QuickGelu;
  if (name == "gelu") return Activation::Gelu;
  // gelu_fast is the same tanh approximation written differently.
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast")
    return Activation::GeluTanh;
  if (name == "silu" || name == "swish") return Activation::Silu;
  if (name == "relu") return Activation::Relu;
  throw ModelError("unknown activation function '" + name +
                   "'; supported: quick_gelu, gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, silu, "
                   "swish, relu");
}

std::string supported_architectures() {
  return "clip (CLIPModel), siglip (SiglipModel), siglip2 (Siglip2Model, NaFlex), gpt2 "
         "(GPT2LMHeadModel), llama (LlamaForCausalLM: "
         "Llama 2/3, SmolLM2), "
         "qwen2 (Qwen2ForCausalLM), qwen3 (Qwen3ForCausalLM), mistral (MistralForCausalLM), "
         "gemma (GemmaForCausalLM), gemma2 (Gemma2ForCausalLM), gemma3_text (Gemma3ForCausalLM), "
         "phi3 (Phi3ForCausalLM), "
         "olmo2 (Olmo2ForCausalLM), llava (LlavaForConditionalGeneration), llava_next "
         "(LlavaNextForConditionalGeneration), llava_onevision "
         "(LlavaOnevisionForConditionalGeneration), paligemma (PaliGemmaForConditionalGeneration), "
         "qwen2_5_vl (Qwen2_5_VLForConditionalGeneration), idefics3 "
         "(Idefics3ForConditionalGeneration: SmolVLM), smolvlm (SmolVLMForConditionalGeneration: "
         "SmolVLM2, images); LLaVA towers: clip_vision_model, "
         "siglip_vision_model";
}

ModelConfig parse_model_config(const std::string& json_text, const std::string& origin) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {
    throw ModelError("invalid config " + origin + ": not valid JSON (" + e.what() + ")");
  }
  if (!root.is_object()) throw ModelError("invalid config " + origin + ": not a JSON object");
  Fields top(root, "", origin);

  std::string type = top.get_string("model_type", "");
  if (type.empty()) type = type_from_architectures(top);
  if (type.empty())
    throw ModelError("invalid config " + origin +
                     ": no \"model_type\" or \"architectures\" field, so the architecture is "
                     "unknown; supported: " +
                     supported_architectures());
  if (type == "clip") return parse_clip(top);
  if (type == "siglip") return parse_siglip(top, /*naflex=*/false);
  if (type == "siglip2") return parse_siglip(top, /*naflex=*/true);
  if (type == "gpt2") return parse_gpt2(top);
  if (is_llama_family(type)) return parse_llama(top, type, /*required=*/true);
  if (type == "llava" || type == "llava_next" || type == "llava_onevision")
    return parse_llava(top, type);
  if (type == "qwen2_5_vl") return parse_qwen2_5_vl(top, root);
  if (type == "paligemma") return parse_paligemma(top);
  if (type == "idefics3" || type == "smolvlm") return parse_idefics3(top, type);
  throw ModelError("unsupported architecture '" + type + "' in " + origin +
                   "; supported: " + supported_architectures());
}

ModelConfig load_model_config(const std::filesystem::path& model_dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(model_dir, ec))
    throw ModelError("model folder " + quoted(model_dir) + " does not exist or is not a folder");
  const auto path = model_dir / "config.json";
  if (!std::filesystem::exists(path, ec))
    throw ModelError("no config.json in " + quoted(model_dir) +
                     "; a model folder needs the Hugging Face config.json next to its weights");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelError("cannot read " + quoted(path));
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  return parse_model_config(text, quoted(path));
}

}  // namespace atman

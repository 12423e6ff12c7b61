#include <nlohmann/json.hpp>

#include "atman/error.h"
#include "atman/inference.h"
#include "commands.h"
#include "common.h"

namespace atman::cli {

int run_forward(int argc, char** argv) {
  Args args(argc, argv, 2, common_options({"model", "image", "text"}), {});
  apply_common(args);
  auto model = load_model_arg(args);
  std::optional<PixelTensor> pixels;
  if (args.has("image")) pixels = model->preprocess(load_image(args.get("image")));
  nlohmann::json out;
  if (!model->generates()) {  // CLIP: image and text embeddings
    if (!pixels && !args.has("text")) throw InputError("CLIP forward needs --image and/or --text");
    ClipForward r = clip_forward(*model, pixels ? &*pixels : nullptr, args.all("text"));
    if (pixels) {
      out["image_embeds"] = r.image_embeds;
      out["logits_per_image"] = r.logits_per_image;
    }
    out["text_embeds"] = r.text_embeds;
  } else {
    auto texts = args.all("text");
    if (texts.size() != 1) throw InputError("a language model forward takes exactly one --text");
    LmForward r = lm_forward(*model, texts[0], pixels ? &*pixels : nullptr);
    out["ids"] = r.ids;
    out["logits"] = r.last_logits;
  }
  emit_json(args, out.dump());
  return 0;
}

}  // namespace atman::cli

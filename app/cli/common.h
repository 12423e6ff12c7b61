// Options every subcommand accepts, applied in one place.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "atman/model.h"
#include "cli_args.h"

namespace atman::cli {

// Option names shared by all commands, to append to a command's own list.
std::vector<std::string> common_options(std::vector<std::string> own);

// Applies --models-dir and --threads.
void apply_common(const Args& args);

// Resolves --model (folder or name under the model root) and loads it on --device in --dtype.
std::shared_ptr<const Model> load_model_arg(const Args& args);

// The input text of a language model or LLaVA (atman/prompt.h): --prompt as it is, or --question
// put into the model's prompt_format.json or chat template (with the image when `with_image`).
// With neither option: the bundled prompt of prompt_format.json, else an InputError naming both
// options (a chat template needs a question to wrap).
std::string prompt_arg(const Args& args, const Model& model, bool with_image);

}  // namespace atman::cli

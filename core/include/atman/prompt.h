// A model's prompt: the input text around a question, from the model folder. Torch-free and
// Qt-free (the GUI may include it).
//
// Where it comes from (default_prompt), first match wins:
//   1. <model dir>/prompt_format.json, "prompt": the bundled models' fixed prompt, used verbatim.
//   2. A Hugging Face chat template, rendered with one user message (the question, and the image):
//        chat_template.jinja   raw Jinja text
//        chat_template.json    {"chat_template": "..."}   (the processor's, e.g. llava-hf models)
//        tokenizer_config.json "chat_template": a string, or [{"name", "template"}...] -> "default"
//   Neither: InputError asking for the prompt text itself.
//
// Templates run in a small Jinja2 interpreter with HF's settings (trim_blocks, lstrip_blocks,
// raise_exception, HF's tojson, loop controls); a syntax or evaluation error, or a template's
// raise_exception(message), is an InputError naming the file and, where there is one, the line.
// Rendering is bounded (4 MiB of text, 10^5 loop iterations, 10^5 items per list) so a hostile
// template fails instead of hanging.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace atman {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string text;
  bool with_image = false;  // the message shows the image (before its text)
};

// The chat template of a model folder (precedence as above), or nullopt when there is none.
// `found_in`, when given, receives the file it came from. ModelError for a file that is not valid
// JSON, or a template list with no "default" entry.
std::optional<std::string> find_chat_template(const std::filesystem::path& model_dir,
                                              std::filesystem::path* found_in = nullptr);

// Whether `tmpl` takes message content as a list of parts, as HF processors pass it to multimodal
// templates: true when the template names a part type ('text' or 'image' in quotes) or tests
// `content is string`. Such templates get content [{"type": "image"}, {"type": "text", "text":
// ...}] (the image part only with with_image); all others a string, with "<image>\n" in front when
// with_image. Either way the template decides where <image> lands.
bool template_takes_content_parts(const std::string& tmpl);

// Renders `tmpl` with variables messages (each {"role", "content"} as above),
// add_generation_prompt, tools = documents = None, and `extra_vars` (an object: bos_token,
// eos_token, ...; it may override the others). `source_name` names the template in errors.
std::string render_chat(const std::string& tmpl, const std::vector<ChatMessage>& messages,
                        bool add_generation_prompt,
                        const nlohmann::json& extra_vars = nlohmann::json::object(),
                        const std::string& source_name = "chat template");

// The special tokens of a model folder as a chat template sees them (bos_token, eos_token,
// unk_token, pad_token, sep_token, cls_token, mask_token: strings; tokenizer_config.json first,
// then special_tokens_map.json; {"content": ...} objects unwrapped).
nlohmann::json special_tokens(const std::filesystem::path& model_dir);

// True when the folder has prompt_format.json or a chat template.
bool has_prompt_format(const std::filesystem::path& model_dir);

// The model's input text for `question` (see the top of this file).
//   prompt_format.json: its "prompt" as is when `question` is empty or already in it; with a
//     "{question}" placeholder, the question put there; otherwise the chat template if the folder
//     has one, else InputError (the fixed prompt cannot take another question).
//   chat template: one user message {question, with_image}, add_generation_prompt = true, the
//     folder's special tokens. With with_image, InputError when the result has no "<image>".
std::string default_prompt(const std::filesystem::path& model_dir, const std::string& question,
                           bool with_image);

}  // namespace atman

// A model folder's prompt: prompt_format.json, else its Hugging Face chat template rendered by the
// Jinja interpreter of jinja.h (atman/prompt.h).
#include <fstream>
#include <iterator>

#include "atman/error.h"
#include "atman/prompt.h"
#include "prompt/jinja.h"
#include "tokenizers/model_files.h"

namespace atman {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelError("Cannot read '" + path.string() + "'.");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// "chat_template" of tokenizer_config.json / chat_template.json: a string, or HF's list of named
// templates of which the one called "default" is the chat template.
std::optional<std::string> template_entry(const json& config, const fs::path& file) {
  if (!config.is_object() || !config.contains("chat_template")) return std::nullopt;
  const json& entry = config["chat_template"];
  if (entry.is_null()) return std::nullopt;
  if (entry.is_string()) return entry.get<std::string>();
  if (entry.is_array()) {
    std::string names;
    for (const json& named : entry) {
      if (!named.is_object() || !named.contains("name") || !named.contains("template") ||
          !named["name"].is_string() || !named["template"].is_string())
        throw ModelError(
            "'" + file.string() +
            "': \"chat_template\" list entries must be {\"name\": ..., \"template\": ...}");
      if (named["name"] == "default") return named["template"].get<std::string>();
      names += (names.empty() ? "" : ", ") + named["name"].get<std::string>();
    }
    throw ModelError("'" + file.string() + "' has chat templates (" + names +
                     ") but none named \"default\"; give the prompt explicitly");
  }
  throw ModelError("'" + file.string() + "': \"chat_template\" must be a string or a list");
}

// A special token entry: "<s>" or {"content": "<s>", ...}.
std::optional<std::string> token_text(const json& entry) {
  if (entry.is_string()) return entry.get<std::string>();
  if (entry.is_object() && entry.contains("content") && entry["content"].is_string())
    return entry["content"].get<std::string>();
  return std::nullopt;
}

jinja::Value content_for(const ChatMessage& m, bool parts) {
  if (!parts) return (m.with_image ? "<image>\n" : "") + m.text;
  jinja::Value content = jinja::Value::array();
  if (m.with_image) content.push_back({{"type", "image"}});
  content.push_back({{"type", "text"}, {"text", m.text}});
  return content;
}

std::string display_name(const fs::path& file) {
  const std::string name = file.filename().string();
  return file.string() + (name == "chat_template.jinja" ? "" : " (chat_template)");
}

}  // namespace

std::optional<std::string> find_chat_template(const fs::path& model_dir, fs::path* found_in) {
  auto found = [&](std::string text, const fs::path& file) {
    if (found_in) *found_in = file;
    return std::optional<std::string>(std::move(text));
  };
  std::error_code ec;
  const fs::path jinja_file = model_dir / "chat_template.jinja";
  if (fs::is_regular_file(jinja_file, ec)) return found(read_text(jinja_file), jinja_file);
  for (const char* name : {"chat_template.json", "tokenizer_config.json"}) {
    const fs::path file = model_dir / name;
    if (auto config = tokenizers::read_optional_json(file))
      if (auto text = template_entry(*config, file)) return found(std::move(*text), file);
  }
  return std::nullopt;
}

bool template_takes_content_parts(const std::string& tmpl) {
  for (const char* marker :
       {"'image'", "\"image\"", "'text'", "\"text\"", "content is string", "content is not string",
        "content'] is string", "content'] is not string", "content\"] is string",
        "content\"] is not string"})
    if (tmpl.find(marker) != std::string::npos) return true;
  return false;
}

std::string render_chat(const std::string& tmpl, const std::vector<ChatMessage>& messages,
                        bool add_generation_prompt, const json& extra_vars,
                        const std::string& source_name) {
  const bool parts = template_takes_content_parts(tmpl);
  jinja::Value vars = jinja::Value::object();
  jinja::Value list = jinja::Value::array();
  for (const ChatMessage& m : messages)
    list.push_back({{"role", m.role}, {"content", content_for(m, parts)}});
  vars["messages"] = std::move(list);
  vars["add_generation_prompt"] = add_generation_prompt;
  vars["tools"] = nullptr;
  vars["documents"] = nullptr;
  if (!extra_vars.is_null() && !extra_vars.is_object())
    throw InputError("render_chat: the extra variables must be a JSON object");
  if (extra_vars.is_object())
    for (const auto& [key, value] : extra_vars.items()) vars[key] = jinja::Value(value);
  return jinja::render(jinja::parse(tmpl, source_name), vars);
}

json special_tokens(const fs::path& model_dir) {
  json tokens = json::object();
  for (const char* name : {"tokenizer_config.json", "special_tokens_map.json"}) {
    const auto config = tokenizers::read_optional_json(model_dir / name);
    if (!config || !config->is_object()) continue;
    for (const char* key : {"bos_token", "eos_token", "unk_token", "pad_token", "sep_token",
                            "cls_token", "mask_token"}) {
      if (tokens.contains(key) || !config->contains(key)) continue;
      if (auto text = token_text((*config)[key])) tokens[key] = *text;
    }
  }
  return tokens;
}

bool has_prompt_format(const fs::path& model_dir) {
  std::error_code ec;
  return fs::is_regular_file(model_dir / "prompt_format.json", ec) ||
         find_chat_template(model_dir).has_value();
}

std::string default_prompt(const fs::path& model_dir, const std::string& question,
                           bool with_image) {
  fs::path template_file;
  const auto tmpl = find_chat_template(model_dir, &template_file);
  const fs::path format_file = model_dir / "prompt_format.json";
  if (const auto format = tokenizers::read_optional_json(format_file)) {
    if (!format->is_object() || !format->contains("prompt") || !(*format)["prompt"].is_string())
      throw InputError("'" + format_file.string() + "' has no \"prompt\" string");
    std::string prompt = (*format)["prompt"].get<std::string>();
    const size_t slot = prompt.find("{question}");
    if (slot != std::string::npos) {
      if (question.empty())
        throw InputError("the prompt of '" + format_file.string() + "' needs a question");
      return prompt.replace(slot, 10, question);
    }
    if (question.empty() || prompt.find(question) != std::string::npos) return prompt;
    if (!tmpl)
      throw InputError("'" + format_file.string() + "' gives the fixed prompt " +
                       jinja::to_json_text(prompt, -1, false) +
                       ", which does not take another question; give the whole input text as "
                       "the prompt instead");
  }
  if (!tmpl)
    throw InputError("the model folder '" + model_dir.string() +
                     "' has neither prompt_format.json nor a chat template (chat_template.jinja, "
                     "chat_template.json or \"chat_template\" in tokenizer_config.json); give the "
                     "prompt text explicitly, with <image> where the image goes");
  std::string prompt = render_chat(*tmpl, {ChatMessage{"user", question, with_image}}, true,
                                   special_tokens(model_dir), display_name(template_file));
  // Qwen2-VL templates write the image as <|vision_start|><|image_pad|><|vision_end|>.
  if (with_image && prompt.find("<image>") == std::string::npos &&
      prompt.find("<|image_pad|>") == std::string::npos)
    throw InputError("the chat template in '" + template_file.string() +
                     "' put no <image> into the prompt; give the prompt text explicitly, with "
                     "<image> where the image goes");
  return prompt;
}

}  // namespace atman

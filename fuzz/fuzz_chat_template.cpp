// Fuzzes chat templates (atman/prompt.h and the Jinja interpreter behind it). Layout:
//
//   byte 0   flags: bits 0..3 = message i shows the image; bit 4 = no bos/eos variables;
//            bit 5 = odd extra variables (non-string tokens, a `messages` override); bit 6 = also
//            load the template from a model folder (tokenizer_config.json) through default_prompt
//   then, separated by "\n##\n": the template, then up to 4 messages, each "role\ncontent" (no
//            newline: the role alternates user / assistant and the part is the content)
//
// Each template is rendered with and without add_generation_prompt. Success and atman::Error are
// the accepted outcomes; the output must stay within the documented 4 MiB, and rendering must end
// (libFuzzer's -timeout reports a hang).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "atman/prompt.h"
#include "fuzz_support.h"
#include "prompt/jinja.h"

namespace {

constexpr const char* kHarness = "fuzz_chat_template";

void check_output(const std::string& out) {
  ATMAN_FUZZ_CHECK(kHarness, out.size() <= atman::jinja::kMaxOutputBytes,
                   "rendered " + std::to_string(out.size()) + " bytes, past the 4 MiB limit");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const auto parts = atman::fuzz::split(
      std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), "\n##\n", 5);
  const std::string tmpl(parts[0]);
  std::vector<atman::ChatMessage> messages;
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string_view part = parts[i];
    atman::ChatMessage m;
    if (const size_t nl = part.find('\n'); nl != std::string_view::npos) {
      m.role = part.substr(0, nl);
      m.text = part.substr(nl + 1);
    } else {
      m.role = i % 2 ? "user" : "assistant";
      m.text = part;
    }
    m.with_image = (flags >> (i - 1)) & 1;
    messages.push_back(std::move(m));
  }

  nlohmann::json extra = nlohmann::json::object();
  if (!(flags & 0x10)) extra = {{"bos_token", "<s>"}, {"eos_token", "</s>"}};
  if (flags & 0x20) {
    extra["bos_token"] = 1;
    extra["eos_token"] = nullptr;
    extra["pad_token"] = nlohmann::json::array({"<pad>", 2.5});
    extra["messages"] = nlohmann::json::array({{{"role", "user"}}});
  }

  (void)atman::template_takes_content_parts(tmpl);
  for (const bool generation : {false, true}) {
    atman::fuzz::guarded(kHarness, [&] {
      check_output(atman::render_chat(tmpl, messages, generation, extra, "fuzzed template"));
    });
  }

  if (flags & 0x40) {
    // The same template found in a model folder, with the folder's special tokens.
    const auto dir = atman::fuzz::scratch_dir() / "chat-model";
    static const bool made = std::filesystem::create_directories(dir) || true;
    (void)made;
    nlohmann::json config = extra;
    config["chat_template"] = tmpl;
    std::string text;
    try {
      text = config.dump();
    } catch (const nlohmann::json::exception&) {
      return 0;  // not UTF-8: no JSON file can hold it
    }
    atman::fuzz::write_file(dir / "tokenizer_config.json", text);
    const std::string question = messages.empty() ? "What is it?" : messages[0].text;
    const bool with_image = flags & 1;
    atman::fuzz::guarded(kHarness, [&] {
      const auto found = atman::find_chat_template(dir);
      ATMAN_FUZZ_CHECK(kHarness, found && *found == tmpl, "the template written is not found");
    });
    atman::fuzz::guarded(kHarness, [&] {
      const std::string prompt = atman::default_prompt(dir, question, with_image);
      check_output(prompt);
      if (with_image)
        ATMAN_FUZZ_CHECK(kHarness, prompt.find("<image>") != std::string::npos,
                         "default_prompt returned a prompt without <image>");
    });
  }
  return 0;
}

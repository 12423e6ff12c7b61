// Chat templates: the Jinja interpreter against jinja2's output for templates in the style of real
// model families (tests/data/chat_templates/golden.json, from make_golden.py there), errors that
// name the line, raise_exception, the limits that stop hostile templates, and how a model folder's
// prompt is found (atman/prompt.h).
#include <QtTest/QtTest>

#include <unistd.h>

#include <ctime>
#include <fstream>
#include <iterator>

#include "atman/error.h"
#include "atman/prompt.h"
#include "core/test_support.h"
#include "prompt/jinja.h"

using namespace atman;
namespace fs = std::filesystem;

namespace {

fs::path golden_file() {
  return fs::path(ATMAN_TEST_DATA_DIR) / "chat_templates" / "golden.json";
}

// The InputError message of `f`, or "" when it did not throw one.
template <typename F>
std::string input_error(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

std::string render(const std::string& tmpl, const jinja::Value& vars = jinja::Value::object()) {
  return jinja::render(jinja::parse(tmpl, "test.jinja"), vars);
}

// A fresh folder under the temp dir, removed again by the destructor.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() /
             ("atman_chat_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  void write(const std::string& file, const std::string& text) const {
    std::ofstream(path / file, std::ios::binary) << text;
  }
  void write_json(const std::string& file, const nlohmann::json& j) const {
    write(file, j.dump(1));
  }
};

}  // namespace

class TestChatTemplate : public QObject {
  Q_OBJECT

 private slots:
  // Every golden case renders exactly as jinja2 rendered it, or fails with its raise_exception
  // message. "chat" cases also check the ChatMessage -> HF message conversion of render_chat.
  void goldenCases() {
    std::ifstream in(golden_file());
    QVERIFY2(in, golden_file().string().c_str());
    const auto golden = jinja::Value::parse(in);  // ordered: dict order matters to tojson
    int checked = 0, failed = 0;
    for (const auto& c : golden.at("cases")) {
      const std::string name = c.at("name");
      const std::string tmpl = c.at("template");
      auto run = [&] {
        if (!c.contains("chat")) return render(tmpl, c.at("vars"));
        std::vector<ChatMessage> messages;
        for (const auto& m : c["chat"]["messages"])
          messages.push_back({m.at("role"), m.at("text"), m.value("with_image", false)});
        return render_chat(tmpl, messages, c["chat"]["add_generation_prompt"].get<bool>(),
                           nlohmann::json::parse(c["chat"]["extra"].dump()), name);
      };
      ++checked;
      if (c.contains("error")) {
        const std::string message = input_error(run);
        if (message.find(c["error"].get<std::string>()) == std::string::npos) {
          ++failed;
          qWarning("%s: expected the error '%s', got '%s'", name.c_str(),
                   c["error"].get<std::string>().c_str(), message.c_str());
        }
        continue;
      }
      try {
        const std::string got = run();
        if (got != c.at("expected").get<std::string>()) {
          ++failed;
          qWarning("%s:\n--- got ---\n%s\n--- want ---\n%s", name.c_str(), got.c_str(),
                   c["expected"].get<std::string>().c_str());
        }
      } catch (const std::exception& e) {
        ++failed;
        qWarning("%s: threw %s", name.c_str(), e.what());
      }
    }
    qInfo("%d golden chat-template cases, %d differ", checked, failed);
    QVERIFY(checked >= 80);
    QCOMPARE(failed, 0);
  }

  void contentPartsRule() {
    QVERIFY(template_takes_content_parts("{% if c['type'] == 'image' %}"));
    QVERIFY(template_takes_content_parts("{% if message.content is string %}"));
    QVERIFY(!template_takes_content_parts("{{ message['content'] }}"));
    const std::vector<ChatMessage> q{{"user", "Hi?", true}};
    QCOMPARE(render_chat("{{ messages[0].content }}", q, false), std::string("<image>\nHi?"));
    QCOMPARE(render_chat("{% for p in messages[0].content %}{{ p.type }}:{{ p.text }};{% endfor %}"
                         "{# 'text' #}",
                         q, false),
             std::string("image:;text:Hi?;"));
    // Extra variables override the defaults; tools is None (defined), unlike a missing name.
    QCOMPARE(
        render_chat(
            "{{ bos_token }}{{ tools is none }}{{ nothing is defined }}{{ add_generation_prompt }}",
            q, true, {{"bos_token", "<s>"}}),
        std::string("<s>TrueFalseTrue"));
  }

  void raiseExceptionIsAnInputError() {
    const std::string message = input_error([] {
      render("{% if true %}{{ raise_exception('Roles must alternate: ' ~ 3) }}{% endif %}");
    });
    QCOMPARE(QString::fromStdString(message), QString("test.jinja: Roles must alternate: 3"));
  }

  void errorsNameTheLine() {
    struct Case {
      const char* tmpl;
      const char* want;  // a part of the message, after "test.jinja, line "
    };
    const Case cases[] = {
        {"one\n{% if x %}\n{{ 1 + }}\n{% endif %}", "3: expected an expression"},
        {"a\nb\n{% for x in y %}no end", "3: this block is never closed: '{% endfor %}'"},
        {"{{ x }}\n\n{% endif %}", "3: '{% endif %}' has no matching opening tag"},
        {"\n{% frobnicate %}", "2: unknown tag 'frobnicate'"},
        {"\n\n{{ 'open", "3: a string literal is never closed"},
        {"x\n{{ name", "2: '{{' is never closed with '}}'"},
        {"x\n{# note", "2: '{#' comment is never closed"},
        {"{{ 1 }}\n{{ [1] | nosuchfilter }}", "2: unknown filter 'nosuchfilter'"},
        {"\n\n\n{{ 1 + 'a' }}", "4: '+' is not supported between 'int' and 'str'"},
        {"\n{{ x is frob }}", "2: unknown test 'frob'"},
        {"{% break %}", "1: 'break' outside a for loop"},
        {"{{ 1 / 0 }}", "1: division by zero"},
        {"{{ undefined_fn() }}", "1: 'undefined_fn' is not a function"},
        {"{{ 'a' @ 'b' }}", "1: unexpected character '@'"},
    };
    for (const auto& c : cases) {
      const std::string message = input_error([&] { render(c.tmpl); });
      QVERIFY2(message.find(std::string("test.jinja, line ") + c.want) != std::string::npos,
               (std::string(c.tmpl) + " -> " + message).c_str());
    }
  }

  void undefinedIsLenient() {
    QCOMPARE(render("[{{ nope }}][{{ nope.deeper['x'] }}][{% for x in nope %}x{% endfor %}]"
                    "[{{ nope | length }}][{{ 'y' if nope else 'n' }}]"),
             std::string("[][][][0][n]"));
    // HF's globals are defined (templates check `strftime_now is defined` before calling it).
    QCOMPARE(
        render("{{ strftime_now is defined }}{{ raise_exception is defined }}{{ nope is defined }}"
               "{{ strftime_now('%Y') | length }}"),
        std::string("TrueTrueFalse4"));
  }

  // Hostile templates fail with a message instead of hanging, recursing or exhausting memory.
  void hostileTemplatesAreBounded() {
    auto expect = [](const std::string& tmpl, const char* want) {
      const std::string message = input_error([&] { render(tmpl); });
      QVERIFY2(message.find(want) != std::string::npos,
               (tmpl.substr(0, 80) + " -> " + message).c_str());
    };
    std::string deep_ifs;
    for (int i = 0; i < 5000; ++i) deep_ifs += "{% if true %}";
    expect(deep_ifs, "nested more than");
    expect("{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}",
           "nested more than");
    expect("{{ " + std::string(50000, '-') + "1 }}", "nested more than");
    expect("{% for i in range(1000000000000) %}x{% endfor %}", "range() of more than");
    expect("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
           "loop iterations");
    expect("{{ 'x' * 1000000000 }}", "too large");
    expect("{% for i in range(100000) %}{{ 'abcdefgh' * 100 }}{% endfor %}", "exceeds 4 MiB");
    expect(
        "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% "
        "endfor %}",
        "list grew past");
    expect(
        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% "
        "endfor %}",
        "grew past");
    expect("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "levels deep");
    expect("{{ 2 ** 100 }}", "integer overflow");
    expect(
        "{% set ns = namespace(l=range(50000) | list) %}"
        "{% for i in range(100000) %}{% set copy = ns.l %}{% endfor %}",
        "too many steps");
  }

  void shapesLlavaUsesPromptFormat() {
    const fs::path dir = test::models_dir() / "shapes-llava";
    const std::string want = "<image>\nQuestion: What is in the picture? Answer:";
    QCOMPARE(default_prompt(dir, "", true), want);
    QCOMPARE(default_prompt(dir, "What is in the picture?", true), want);
    QVERIFY(has_prompt_format(dir));
    QVERIFY(!find_chat_template(dir));
    // A fixed prompt cannot take another question and the folder has no chat template.
    QVERIFY(input_error([&] {
              default_prompt(dir, "What colour is it?", true);
            }).find("does not take another question") != std::string::npos);
    QVERIFY(!has_prompt_format(test::models_dir() / "shapes-clip"));
  }

  void chatTemplateSources() {
    const std::string vicuna =
        "{{ bos_token }}{% for m in messages %}{{ m.role | upper }}: {{ m.content }} {% endfor %}"
        "{% if add_generation_prompt %}ASSISTANT:{% endif %}";
    {
      TempDir d("config");  // tokenizer_config.json: a string; special tokens as objects
      d.write_json("tokenizer_config.json",
                   nlohmann::json{{"chat_template", vicuna},
                                  {"bos_token", {{"content", "<s>"}, {"lstrip", false}}}});
      QCOMPARE(default_prompt(d.path, "What is it?", true),
               std::string("<s>USER: <image>\nWhat is it? ASSISTANT:"));
      QCOMPARE(default_prompt(d.path, "Text only", false),
               std::string("<s>USER: Text only ASSISTANT:"));
      fs::path from;
      QVERIFY(find_chat_template(d.path, &from));
      QCOMPARE(from.filename().string(), std::string("tokenizer_config.json"));
    }
    {
      TempDir d("list");  // a list of named templates: "default" is the chat template
      d.write_json(
          "tokenizer_config.json",
          nlohmann::json{{"chat_template",
                          {{{"name", "tool_use"}, {"template", "TOOLS"}},
                           {{"name", "default"}, {"template", "DEFAULT {{ eos_token }}"}}}}});
      d.write_json("special_tokens_map.json", nlohmann::json{{"eos_token", "</s>"}});
      QCOMPARE(default_prompt(d.path, "q", false), std::string("DEFAULT </s>"));
      d.write_json("tokenizer_config.json",
                   nlohmann::json{{"chat_template", {{{"name", "tool_use"}, {"template", "T"}}}}});
      QVERIFY_THROWS_EXCEPTION(ModelError, find_chat_template(d.path));
    }
    {
      TempDir d("precedence");  // chat_template.jinja, then chat_template.json, then the config
      d.write_json("tokenizer_config.json", nlohmann::json{{"chat_template", "CONFIG"}});
      QCOMPARE(*find_chat_template(d.path), std::string("CONFIG"));
      d.write_json("chat_template.json", nlohmann::json{{"chat_template", "PROCESSOR <image>"}});
      QCOMPARE(*find_chat_template(d.path), std::string("PROCESSOR <image>"));
      d.write("chat_template.jinja", "RAW {{ messages[0].content }}\n");
      QCOMPARE(*find_chat_template(d.path), std::string("RAW {{ messages[0].content }}\n"));
      // The trailing newline of the file is dropped, as jinja2 does.
      QCOMPARE(default_prompt(d.path, "hi", true), std::string("RAW <image>\nhi"));
    }
    {
      TempDir d("errors");  // errors name the file and the line
      d.write("chat_template.jinja", "line 1\n{% if %}");
      const std::string message = input_error([&] { default_prompt(d.path, "q", false); });
      QVERIFY2(message.find("chat_template.jinja, line 2:") != std::string::npos, message.c_str());
      d.write("chat_template.jinja", "{{ raise_exception('Only user and assistant roles') }}");
      QVERIFY(input_error([&] {
                default_prompt(d.path, "q", false);
              }).find("Only user and assistant roles") != std::string::npos);
      // A template that drops the image cannot be an image prompt.
      d.write("chat_template.jinja",
              "{% for p in messages[0].content | selectattr('type', 'equalto', 'text') %}{{ p.text "
              "}}{% endfor %}");
      QCOMPARE(default_prompt(d.path, "q", false), std::string("q"));
      QVERIFY(input_error([&] { default_prompt(d.path, "q", true); }).find("put no <image>") !=
              std::string::npos);
    }
    {
      TempDir d("format");  // prompt_format.json first; {question} placeholder; else the template
      d.write_json("prompt_format.json", nlohmann::json{{"prompt", "<image>\nQ: {question} A:"}});
      QCOMPARE(default_prompt(d.path, "Why?", true), std::string("<image>\nQ: Why? A:"));
      QVERIFY(!input_error([&] { default_prompt(d.path, "", true); }).empty());
      d.write_json("prompt_format.json", nlohmann::json{{"prompt", "<image>\nFixed question? A:"}});
      d.write("chat_template.jinja", "T: {{ messages[0].content }}");
      QCOMPARE(default_prompt(d.path, "", true), std::string("<image>\nFixed question? A:"));
      QCOMPARE(default_prompt(d.path, "Other?", true), std::string("T: <image>\nOther?"));
      d.write_json("prompt_format.json", nlohmann::json{{"no_prompt", 1}});
      QVERIFY(input_error([&] { default_prompt(d.path, "", true); }).find("no \"prompt\" string") !=
              std::string::npos);
    }
    {
      TempDir d("neither");
      d.write_json("tokenizer_config.json", nlohmann::json{{"bos_token", "<s>"}});
      const std::string message = input_error([&] { default_prompt(d.path, "q", true); });
      QVERIFY2(
          message.find("has neither prompt_format.json nor a chat template") != std::string::npos,
          message.c_str());
      QVERIFY(!has_prompt_format(d.path));
    }
  }

  // Model folders holding the real templates of today's families (families/*.jinja) with their
  // tokenizer_config.json special tokens: default_prompt gives the prompt HF's
  // apply_chat_template(add_generation_prompt=True) gives for one user message.
  void realFamilyFolders() {
    auto real = [](const std::string& name) {
      std::ifstream in(fs::path(ATMAN_TEST_DATA_DIR) / "chat_templates" / "families" /
                       (name + ".jinja"));
      return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    };
    {
      TempDir d("qwen3");  // Qwen's config has bos_token null
      d.write_json("tokenizer_config.json", nlohmann::json{{"chat_template", real("qwen3")},
                                                           {"bos_token", nullptr},
                                                           {"eos_token", "<|im_end|>"}});
      QCOMPARE(default_prompt(d.path, "Hi", false),
               std::string("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"));
    }
    {
      TempDir d("qwen25");  // the default system prompt
      d.write("chat_template.jinja", real("qwen2.5"));
      QCOMPARE(default_prompt(d.path, "Hi", false),
               std::string("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a "
                           "helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                           "<|im_start|>assistant\n"));
    }
    {
      TempDir d("gemma3");  // content parts: the image is <start_of_image> before the text
      d.write_json("chat_template.json", nlohmann::json{{"chat_template", real("gemma-3")}});
      d.write_json("tokenizer_config.json", nlohmann::json{{"bos_token", "<bos>"}});
      // With the image the template writes <start_of_image>, not <image>: default_prompt refuses
      // an image prompt without <image> (AtMan's image models expand <image>), so only the text
      // prompt renders.
      QVERIFY(input_error([&] { default_prompt(d.path, "What is it?", true); }).find("<image>") !=
              std::string::npos);
      QCOMPARE(default_prompt(d.path, "What is it?", false),
               std::string("<bos><start_of_turn>user\nWhat is it?<end_of_turn>\n"
                           "<start_of_turn>model\n"));
    }
    {
      TempDir d("llama32");  // no date_string: strftime_now gives today's date, as in HF
      d.write_json("tokenizer_config.json", nlohmann::json{{"chat_template", real("llama-3.2")},
                                                           {"bos_token", "<|begin_of_text|>"},
                                                           {"eos_token", "<|eot_id|>"}});
      char today[32];
      const std::time_t now = std::time(nullptr);
      std::tm local{};
      localtime_r(&now, &local);
      std::strftime(today, sizeof today, "%d %b %Y", &local);
      QCOMPARE(default_prompt(d.path, "Hi", false),
               std::string("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                           "Cutting Knowledge Date: December 2023\nToday Date: ") +
                   today +
                   "\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                   "<|start_header_id|>assistant<|end_header_id|>\n\n");
    }
  }
};

QTEST_GUILESS_MAIN(TestChatTemplate)
#include "test_chat_template.moc"

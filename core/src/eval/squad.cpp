// SQuAD v1.1 for causal-LM token explanations: the prompt format, the answer sentence as ground
// truth, and the selection of items that fit the model's context.
#include <nlohmann/json.hpp>

#include <fstream>

#include "atman/error.h"
#include "atman/eval.h"
#include "text/utf8.h"

namespace atman::eval {
namespace {

using nlohmann::json;

// Code points of UTF-8 text (SQuAD's answer_start counts code points, as Candidate::span does).
// Malformed bytes become U+FFFD (Python's errors="replace") rather than stopping an evaluation.
std::u32string decode(const std::string& s) {
  return text::decode_utf8(text::repair_utf8(s));
}

std::string encode(const std::u32string& text) {
  return text::encode_utf8(text);
}

bool is_space(char32_t c) {
  return c == U' ' || c == U'\t' || c == U'\n' || c == U'\r' || c == U'\f' || c == U'\v' ||
         c == 0xA0 || c == 0x3000 || (c >= 0x2000 && c <= 0x200A);
}

// [begin, end) of each sentence: ends after . ! ? followed by whitespace or the end of the text;
// leading and trailing whitespace is left out.
std::vector<std::pair<int64_t, int64_t>> sentences(const std::u32string& t) {
  std::vector<std::pair<int64_t, int64_t>> out;
  const int64_t n = static_cast<int64_t>(t.size());
  int64_t start = 0;
  auto close = [&](int64_t end) {
    while (start < end && is_space(t[start])) ++start;
    while (end > start && is_space(t[end - 1])) --end;
    if (end > start) out.push_back({start, end});
  };
  for (int64_t i = 0; i < n; ++i) {
    const bool mark = t[i] == U'.' || t[i] == U'!' || t[i] == U'?';
    if (mark && (i + 1 == n || is_space(t[i + 1]))) {
      close(i + 1);
      start = i + 1;
    }
  }
  close(n);
  return out;
}

}  // namespace

std::string squad_prompt(const std::string& context, const std::string& question) {
  return context + "\nQuestion: " + question + "\nAnswer:";
}

std::pair<int64_t, int64_t> sentence_span(const std::string& text, int64_t begin, int64_t end) {
  const auto all = sentences(decode(text));
  if (all.empty()) throw InputError("the text has no sentences");
  if (end <= begin) end = begin + 1;
  // First sentence ending after `begin` (an answer starting in the gap between two sentences
  // belongs to the next one) to the last one starting before `end`.
  size_t first = all.size() - 1, last = 0;
  for (size_t s = 0; s < all.size(); ++s)
    if (all[s].second > begin) {
      first = s;
      break;
    }
  for (size_t s = all.size(); s-- > 0;)
    if (all[s].first < end) {
      last = s;
      break;
    }
  last = std::max(first, last);
  return {all[first].first, all[last].second};
}

std::vector<SquadItem> load_squad(const std::filesystem::path& path, int limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("cannot read " + path.string() + " (give SQuAD v1.1's dev-v1.1.json)");
  std::vector<SquadItem> items;
  try {
    const json j = json::parse(in);
    for (const auto& article : j.at("data")) {
      const std::string title = article.value("title", "");
      for (const auto& paragraph : article.at("paragraphs")) {
        const std::string context = paragraph.at("context").get<std::string>();
        const std::u32string context32 = decode(context);
        const auto context_sentences = sentences(context32);
        for (const auto& qa : paragraph.at("qas")) {
          if (limit > 0 && static_cast<int>(items.size()) >= limit) return items;
          SquadItem item;
          item.id = qa.at("id").get<std::string>();
          item.title = title;
          item.question = qa.at("question").get<std::string>();
          const auto& answers = qa.at("answers");
          if (answers.empty()) throw InputError("question " + item.id + " has no answer");
          item.answer = answers.at(0).at("text").get<std::string>();
          const int64_t start = answers.at(0).at("answer_start").get<int64_t>();
          const int64_t length = static_cast<int64_t>(decode(item.answer).size());
          if (start < 0 || start + length > static_cast<int64_t>(context32.size()) ||
              context32.substr(start, length) != decode(item.answer))
            throw InputError("question " + item.id + ": the answer is not at answer_start " +
                             std::to_string(start) + " of its context");
          item.prompt = squad_prompt(context, item.question);
          item.target = " " + item.answer;
          // The prompt starts with the context: context code points are prompt code points.
          item.answer_span = {start, start + length};
          item.sentence_span = sentence_span(context, start, start + length);
          item.sentence = encode(context32.substr(
              item.sentence_span.first, item.sentence_span.second - item.sentence_span.first));
          items.push_back(std::move(item));
        }
      }
    }
  } catch (const json::exception& e) {
    throw InputError(path.string() + ": " + e.what());
  } catch (const InputError& e) {
    throw InputError(path.string() + ": " + e.what());
  }
  return items;
}

SquadSelection select_fitting(const Model& model, const std::vector<SquadItem>& items,
                              int max_tokens, int limit) {
  if (max_tokens < 0) throw InputError("the token limit must be >= 0 (0 = the model's context)");
  int64_t fits = model.max_text_tokens();
  if (max_tokens > 0) fits = std::min<int64_t>(fits, max_tokens);
  SquadSelection selection;
  for (const auto& item : items) {
    if (limit > 0 && static_cast<int>(selection.items.size()) >= limit) break;
    // The explainer's input: prompt tokens + target tokens without the last (teacher forcing).
    const int64_t tokens = static_cast<int64_t>(model.tokenizer().encode(item.prompt).ids.size() +
                                                model.tokenizer().encode(item.target).ids.size()) -
                           1;
    if (tokens <= fits)
      selection.items.push_back(item);
    else
      ++selection.skipped;
  }
  return selection;
}

}  // namespace atman::eval

// Reads a Hugging Face `tokenizers` file (tokenizer.json) with a BPE model into a TokenizerSpec.
// Every component is checked here, so that a file AtMan Studio cannot reproduce exactly fails to
// load with a message naming the component, instead of tokenizing slightly differently from HF.
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "atman/error.h"
#include "text/utf8.h"
#include "tokenizers/hf_tokenizer.h"

namespace atman::tokenizers::hf {
namespace {

using nlohmann::json;

// The largest real tokenizer.json files are a few tens of MiB; this only stops a wrong file from
// being read into memory whole.
constexpr uintmax_t kMaxFileBytes = 256u << 20;
// Ids index embedding rows (the same limit as vocab.json, bpe.cpp).
constexpr int64_t kMaxId = 16 * 1024 * 1024;
// Sequences nest in real files at most twice; deeper nesting is a broken or hostile file.
constexpr int kMaxDepth = 8;

// HF's ByteLevel pre-tokenizer regex (GPT-2's), in the Oniguruma syntax tokenizer.json uses.
constexpr std::string_view kByteLevelRegex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class Parser {
 public:
  explicit Parser(std::filesystem::path path) { spec_.path = std::move(path); }

  TokenizerSpec parse(const json& root) {
    if (!root.is_object()) fail("it is not a JSON object");
    if (!root.contains("model") || !root["model"].is_object()) fail("it has no \"model\" object");
    // The pre-tokenizer first: it decides whether the model is byte-level.
    if (root.contains("pre_tokenizer")) pre_tokenizer(root["pre_tokenizer"], "pre_tokenizer", 0);
    spec_.bpe.byte_level = byte_level_;
    model(root["model"]);
    if (root.contains("normalizer")) normalizer(root["normalizer"], "normalizer", 0);
    if (root.contains("decoder") && !root["decoder"].is_null()) {
      spec_.has_decoder = true;
      decoder(root["decoder"], "decoder", 0);
    }
    if (root.contains("added_tokens")) added_tokens(root["added_tokens"]);
    if (root.contains("post_processor")) {
      post_processor(root["post_processor"], "post_processor", 0);
    }
    return std::move(spec_);
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw ModelError(spec_.path.string() + ": " + what + ".");
  }

 private:
  // ---- typed access with messages that name the field ----

  std::string type_of(const json& j, const std::string& where) const {
    if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
      fail(where + " is not an object with a \"type\"");
    }
    return j["type"].get<std::string>();
  }
  bool boolean(const json& j, const char* key, bool fallback, const std::string& where) const {
    if (!j.contains(key) || j[key].is_null()) return fallback;
    if (!j[key].is_boolean()) fail(where + "." + key + " is not true or false");
    return j[key].get<bool>();
  }
  std::string string(const json& j, const char* key, const std::string& where) const {
    if (!j.contains(key) || !j[key].is_string())
      fail(where + "." + key + " is missing or not text");
    return j[key].get<std::string>();
  }
  int64_t integer(const json& j, int64_t lo, int64_t hi, const std::string& where) const {
    if (!j.is_number_integer() || j.get<int64_t>() < lo || j.get<int64_t>() > hi) {
      fail(where + " is not a whole number from " + std::to_string(lo) + " to " +
           std::to_string(hi));
    }
    return j.get<int64_t>();
  }
  const json& array(const json& j, const char* key, const std::string& where) const {
    if (!j.contains(key) || !j[key].is_array()) fail(where + "." + key + " is not a list");
    return j[key];
  }
  char32_t one_char(const std::string& s, const std::string& where) const {
    const std::u32string u = text::decode_utf8(s);  // JSON strings are valid UTF-8
    if (u.size() != 1) fail(where + " must be one character, not '" + s + "'");
    return u[0];
  }
  void depth_check(int depth, const std::string& where) const {
    if (depth > kMaxDepth)
      fail(where + " nests Sequences more than " + std::to_string(kMaxDepth) + " deep");
  }
  [[noreturn]] void unsupported(const std::string& where, const std::string& type,
                                const char* supported) const {
    fail(where + " type '" + type + "' is not supported (supported: " + supported + ")");
  }

  Pattern pattern(const json& j, const std::string& where) const {
    const std::string at = where + ".pattern";
    if (!j.contains("pattern") || !j["pattern"].is_object()) fail(at + " is missing");
    const json& p = j["pattern"];
    Pattern out;
    if (p.contains("String") && p["String"].is_string()) {
      out.literal = p["String"].get<std::string>();
      if (out.literal.empty()) fail(at + " is an empty string");
    } else if (p.contains("Regex") && p["Regex"].is_string()) {
      const std::string regex = p["Regex"].get<std::string>();
      try {
        out.regex = std::make_shared<const Regex>(onig_to_pcre(regex));
      } catch (const ModelError& e) {
        fail(at + ": the regex '" + regex + "' is not supported (" + e.what() + ")");
      }
    } else {
      fail(at + " is neither {\"String\": ...} nor {\"Regex\": ...}");
    }
    return out;
  }

  // ---- model ----

  void model(const json& m) {
    std::string type = "BPE";  // files written before "type" existed hold BPE fields only
    if (m.contains("type")) type = type_of(m, "model");
    if (type != "BPE") fail("model type '" + type + "' is not supported (BPE only)");
    if (m.contains("dropout") && !m["dropout"].is_null() &&
        !(m["dropout"].is_number() && m["dropout"].get<double>() == 0.0)) {
      fail("model.dropout is set, which makes encodings random; it is not supported");
    }
    if (m.contains("continuing_subword_prefix") && !m["continuing_subword_prefix"].is_null() &&
        !(m["continuing_subword_prefix"].is_string() &&
          m["continuing_subword_prefix"].get<std::string>().empty())) {
      fail("model.continuing_subword_prefix is not supported");
    }
    if (m.contains("end_of_word_suffix") && !m["end_of_word_suffix"].is_null()) {
      spec_.bpe.end_of_word = string(m, "end_of_word_suffix", "model");
    }
    spec_.bpe.byte_fallback = boolean(m, "byte_fallback", false, "model");
    spec_.bpe.fuse_unk = boolean(m, "fuse_unk", false, "model");
    spec_.bpe.ignore_merges = boolean(m, "ignore_merges", false, "model");
    if (!spec_.bpe.byte_level && spec_.bpe.byte_fallback && !spec_.bpe.end_of_word.empty()) {
      // HF would spell the suffix as "<0xNN>" tokens too, which stand for no text.
      fail("model.end_of_word_suffix together with byte_fallback is not supported");
    }
    vocab(m);
    merges(m);
    if (m.contains("unk_token") && !m["unk_token"].is_null()) {
      const std::string unk = string(m, "unk_token", "model");
      spec_.bpe.unk_id = spec_.vocab.id(unk);
      if (spec_.bpe.unk_id < 0) fail("model.unk_token '" + unk + "' is not in model.vocab");
    }
  }

  void vocab(const json& m) {
    if (!m.contains("vocab") || !m["vocab"].is_object() || m["vocab"].empty()) {
      fail("model.vocab is missing or not an object mapping tokens to ids");
    }
    const json& v = m["vocab"];
    Vocab& vocab = spec_.vocab;
    vocab.ids.reserve(v.size());
    int64_t max_id = 0;
    for (const auto& [token, id] : v.items()) {
      max_id = std::max(max_id, integer(id, 0, kMaxId, "model.vocab['" + token + "']"));
    }
    vocab.tokens.resize(static_cast<size_t>(max_id) + 1);
    for (const auto& [token, id] : v.items()) {
      const auto i = id.get<int32_t>();
      vocab.tokens[static_cast<size_t>(i)] = token;
      vocab.ids.insert_or_assign(token, i);
    }
  }

  void merges(const json& m) {
    const json& list = array(m, "merges", "model");
    spec_.merges.reserve(list.size());
    std::string joined;
    for (size_t i = 0; i < list.size(); ++i) {
      const json& e = list[i];
      const std::string at = "model.merges[" + std::to_string(i) + "]";
      MergeRule rule{{}, {}, static_cast<int>(std::min<size_t>(i + 1, INT32_MAX))};
      if (e.is_string()) {  // "first second"
        const std::string s = e.get<std::string>();
        const size_t space = s.find(' ');
        if (space == 0 || space == std::string::npos || space + 1 == s.size() ||
            s.find(' ', space + 1) != std::string::npos) {
          fail(at + " ('" + s.substr(0, 80) + "') is not two symbols separated by one space");
        }
        rule.first = s.substr(0, space);
        rule.second = s.substr(space + 1);
      } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
        rule.first = e[0].get<std::string>();
        rule.second = e[1].get<std::string>();
      } else {
        fail(at + " is neither \"first second\" nor [\"first\", \"second\"]");
      }
      // HF refuses such files (MergeTokenOutOfVocabulary); a rule that cannot fire is a sign of
      // a vocabulary and merges that do not belong together.
      for (const std::string* part : {&rule.first, &rule.second}) {
        if (spec_.vocab.id(*part) < 0) {
          fail(at + " refers to '" + *part + "', which is not in model.vocab");
        }
      }
      joined.assign(rule.first).append(rule.second);
      if (spec_.vocab.id(joined) < 0) {
        fail(at + " merges '" + rule.first + "' and '" + rule.second +
             "', but model.vocab has no token '" + joined + "'");
      }
      spec_.merges.push_back(std::move(rule));
    }
  }

  // ---- normalizer ----

  void normalizer(const json& j, const std::string& where, int depth) {
    if (j.is_null()) return;
    depth_check(depth, where);
    const std::string type = type_of(j, where);
    if (type == "Sequence") {
      const json& list = array(j, "normalizers", where);
      for (size_t i = 0; i < list.size(); ++i) {
        normalizer(list[i], where + ".normalizers[" + std::to_string(i) + "]", depth + 1);
      }
    } else if (type == "Prepend") {
      spec_.normalizer.push_back(
          {NormalizerStep::Kind::kPrepend, text::decode_utf8(string(j, "prepend", where)), {}});
    } else if (type == "Replace") {
      spec_.normalizer.push_back({NormalizerStep::Kind::kReplace,
                                  text::decode_utf8(string(j, "content", where)),
                                  pattern(j, where)});
    } else if (type == "NFC") {
      spec_.normalizer.push_back({NormalizerStep::Kind::kNfc, {}, {}});
    } else if (type == "NFKC") {
      spec_.normalizer.push_back({NormalizerStep::Kind::kNfkc, {}, {}});
    } else if (type == "Lowercase") {
      spec_.normalizer.push_back({NormalizerStep::Kind::kLowercase, {}, {}});
    } else if (type == "Strip") {
      NormalizerStep step{NormalizerStep::Kind::kStrip, {}, {}};
      step.strip_left = boolean(j, "strip_left", false, where);
      step.strip_right = boolean(j, "strip_right", false, where);
      spec_.normalizer.push_back(std::move(step));
    } else {
      unsupported(where, type, "Lowercase, NFC, NFKC, Prepend, Replace, Sequence, Strip");
    }
  }

  // ---- pre-tokenizer ----

  void pre_tokenizer(const json& j, const std::string& where, int depth) {
    if (j.is_null()) return;
    depth_check(depth, where);
    const std::string type = type_of(j, where);
    if (type == "Sequence") {
      const json& list = array(j, "pretokenizers", where);
      for (size_t i = 0; i < list.size(); ++i) {
        pre_tokenizer(list[i], where + ".pretokenizers[" + std::to_string(i) + "]", depth + 1);
      }
      return;
    }
    // The BPE model sees byte-level words as raw bytes (bpe.h), so nothing may act on the
    // byte-alphabet text ByteLevel produces.
    if (byte_level_) fail(where + " comes after ByteLevel, which is not supported");
    PreTokenizerStep step;
    if (type == "ByteLevel") {
      byte_level_ = true;
      if (boolean(j, "add_prefix_space", true, where)) {
        PreTokenizerStep prefix;
        prefix.kind = PreTokenizerStep::Kind::kPrefixSpace;
        spec_.pre_tokenizer.push_back(std::move(prefix));
      }
      if (boolean(j, "use_regex", true, where)) {
        step.pattern.regex = std::make_shared<const Regex>(onig_to_pcre(kByteLevelRegex));
        spec_.pre_tokenizer.push_back(std::move(step));
      }
    } else if (type == "Split") {
      step.pattern = pattern(j, where);
      step.behavior = behavior(string(j, "behavior", where), where);
      step.invert = boolean(j, "invert", false, where);
      spec_.pre_tokenizer.push_back(std::move(step));
    } else if (type == "Digits") {
      step.pattern.regex = std::make_shared<const Regex>(R"(\p{N})");
      step.behavior = boolean(j, "individual_digits", false, where) ? SplitBehavior::kIsolated
                                                                    : SplitBehavior::kContiguous;
      spec_.pre_tokenizer.push_back(std::move(step));
    } else if (type == "Metaspace") {
      step.kind = PreTokenizerStep::Kind::kMetaspace;
      step.replacement = one_char(string(j, "replacement", where), where + ".replacement");
      step.prepend = prepend_scheme(j, where);
      step.split = boolean(j, "split", true, where);
      spec_.pre_tokenizer.push_back(std::move(step));
    } else {
      unsupported(where, type, "ByteLevel, Digits, Metaspace, Sequence, Split");
    }
  }

  SplitBehavior behavior(const std::string& name, const std::string& where) const {
    if (name == "Removed") return SplitBehavior::kRemoved;
    if (name == "Isolated") return SplitBehavior::kIsolated;
    if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
    if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
    if (name == "Contiguous") return SplitBehavior::kContiguous;
    fail(where + ".behavior '" + name + "' is not a known split behavior");
  }

  // Newer files say prepend_scheme; older ones add_prefix_space (true meaning "always").
  PrependScheme prepend_scheme(const json& j, const std::string& where) const {
    if (j.contains("prepend_scheme") && !j["prepend_scheme"].is_null()) {
      const std::string s = string(j, "prepend_scheme", where);
      if (s == "always") return PrependScheme::kAlways;
      if (s == "first") return PrependScheme::kFirst;
      if (s == "never") return PrependScheme::kNever;
      fail(where + ".prepend_scheme '" + s + "' is not always, first or never");
    }
    return boolean(j, "add_prefix_space", true, where) ? PrependScheme::kAlways
                                                       : PrependScheme::kNever;
  }

  // ---- decoder ----

  void decoder(const json& j, const std::string& where, int depth) {
    if (j.is_null()) return;
    depth_check(depth, where);
    const std::string type = type_of(j, where);
    DecoderStep step;
    if (type == "Sequence") {
      const json& list = array(j, "decoders", where);
      for (size_t i = 0; i < list.size(); ++i) {
        decoder(list[i], where + ".decoders[" + std::to_string(i) + "]", depth + 1);
      }
      return;
    } else if (type == "ByteLevel") {
    } else if (type == "Metaspace") {
      step.kind = DecoderStep::Kind::kMetaspace;
      step.replacement.clear();
      text::append_utf8(step.replacement,
                        one_char(string(j, "replacement", where), where + ".replacement"));
      step.strip_first = prepend_scheme(j, where) != PrependScheme::kNever;
    } else if (type == "Replace") {
      step.kind = DecoderStep::Kind::kReplace;
      step.pattern = pattern(j, where);
      step.content = string(j, "content", where);
    } else if (type == "ByteFallback") {
      step.kind = DecoderStep::Kind::kByteFallback;
    } else if (type == "Fuse") {
      step.kind = DecoderStep::Kind::kFuse;
    } else if (type == "Strip") {
      step.kind = DecoderStep::Kind::kStrip;
      step.content.clear();
      text::append_utf8(step.content, one_char(string(j, "content", where), where + ".content"));
      step.start = static_cast<int>(integer(j.value("start", json(0)), 0, 1000, where + ".start"));
      step.stop = static_cast<int>(integer(j.value("stop", json(0)), 0, 1000, where + ".stop"));
    } else {
      unsupported(where, type,
                  "ByteFallback, ByteLevel, Fuse, Metaspace, Replace, Sequence, Strip");
    }
    spec_.decoder.push_back(std::move(step));
  }

  // ---- added tokens and post-processor ----

  void added_tokens(const json& list) {
    if (list.is_null()) return;
    if (!list.is_array()) fail("added_tokens is not a list");
    for (size_t i = 0; i < list.size(); ++i) {
      const json& t = list[i];
      const std::string at = "added_tokens[" + std::to_string(i) + "]";
      if (!t.is_object() || !t.contains("id")) fail(at + " is not an object with an id");
      AddedToken a;
      a.id = static_cast<int32_t>(integer(t["id"], 0, kMaxId, at + ".id"));
      a.text = string(t, "content", at);
      if (a.text.empty()) fail(at + ".content is empty");
      a.special = boolean(t, "special", false, at);
      a.lstrip = boolean(t, "lstrip", false, at);
      a.rstrip = boolean(t, "rstrip", false, at);
      a.single_word = boolean(t, "single_word", false, at);
      a.normalized = boolean(t, "normalized", !a.special, at);
      text::MappedText content = text::MappedText::identity(text::decode_utf8(a.text));
      if (a.normalized) normalize(spec_.normalizer, content);
      if (content.text.empty()) continue;  // normalizes to nothing: can never match
      a.content = std::move(content.text);
      spec_.added.push_back(std::move(a));
    }
  }

  void post_processor(const json& j, const std::string& where, int depth) {
    if (j.is_null()) return;
    depth_check(depth, where);
    const std::string type = type_of(j, where);
    if (type == "Sequence") {
      const json& list = array(j, "processors", where);
      for (size_t i = 0; i < list.size(); ++i) {
        post_processor(list[i], where + ".processors[" + std::to_string(i) + "]", depth + 1);
      }
    } else if (type == "ByteLevel") {
      // Only trims offsets; adds no tokens.
    } else if (type == "TemplateProcessing") {
      template_processing(j, where);
    } else if (type == "RobertaProcessing" || type == "BertProcessing") {
      spec_.prefix.push_back(token_pair(j, "cls", where));
      spec_.suffix.push_back(token_pair(j, "sep", where));
    } else {
      unsupported(where, type,
                  "BertProcessing, ByteLevel, RobertaProcessing, Sequence, TemplateProcessing");
    }
  }

  std::pair<int32_t, std::string> token_pair(const json& j, const char* key,
                                             const std::string& where) const {
    const std::string at = where + "." + key;
    if (!j.contains(key) || !j[key].is_array() || j[key].size() != 2 || !j[key][0].is_string()) {
      fail(at + " is not [token, id]");
    }
    return {static_cast<int32_t>(integer(j[key][1], 0, kMaxId, at + "[1]")),
            j[key][0].get<std::string>()};
  }

  // The single-sequence template, e.g. [<s>, $A] for Llama: what comes before $A is the prefix.
  void template_processing(const json& j, const std::string& where) {
    const json& single = array(j, "single", where);
    const json* specials = j.contains("special_tokens") ? &j["special_tokens"] : nullptr;
    bool seen_sequence = false;
    for (size_t i = 0; i < single.size(); ++i) {
      const json& item = single[i];
      const std::string at = where + ".single[" + std::to_string(i) + "]";
      if (item.is_object() && item.contains("Sequence")) {
        const json& s = item["Sequence"];
        if (!s.is_object() || s.value("id", json("A")) != json("A") || seen_sequence) {
          fail(at + ": the single-sequence template may hold only sequence A, once");
        }
        seen_sequence = true;
        continue;
      }
      if (!item.is_object() || !item.contains("SpecialToken") ||
          !item["SpecialToken"].is_object()) {
        fail(at + " is neither a Sequence nor a SpecialToken");
      }
      const std::string name = string(item["SpecialToken"], "id", at + ".SpecialToken");
      if (!specials || !specials->is_object() || !specials->contains(name)) {
        fail(at + " names the special token '" + name + "', which special_tokens lacks");
      }
      const json& st = (*specials)[name];
      const std::string st_at = where + ".special_tokens['" + name + "']";
      const json& ids = array(st, "ids", st_at);
      const json& tokens = array(st, "tokens", st_at);
      if (ids.size() != tokens.size()) fail(st_at + " has as many ids as tokens");
      for (size_t k = 0; k < ids.size(); ++k) {
        if (!tokens[k].is_string()) fail(st_at + ".tokens holds something that is not text");
        auto& list = seen_sequence ? spec_.suffix : spec_.prefix;
        list.emplace_back(static_cast<int32_t>(integer(ids[k], 0, kMaxId, st_at + ".ids")),
                          tokens[k].get<std::string>());
      }
    }
    if (!seen_sequence) fail(where + ".single has no $A sequence");
  }

  TokenizerSpec spec_;
  bool byte_level_ = false;  // a ByteLevel pre-tokenizer was seen
};

}  // namespace

void set_bos_eos(TokenizerSpec& spec, const std::optional<std::string>& bos,
                 const std::optional<std::string>& eos, const std::filesystem::path& config) {
  auto entry = [&](const std::string& token, const char* flag) {
    for (const auto& a : spec.added) {
      if (a.text == token) return std::make_pair(a.id, token);
    }
    const int32_t id = spec.vocab.id(token);
    if (id < 0) {
      throw ModelError(config.string() + ": " + flag + " is set, but its token '" + token +
                       "' is neither an added token nor in the vocabulary of " +
                       spec.path.string() + ".");
    }
    return std::make_pair(id, token);
  };
  spec.prefix.clear();
  spec.suffix.clear();
  if (bos) spec.prefix.push_back(entry(*bos, "add_bos_token"));
  if (eos) spec.suffix.push_back(entry(*eos, "add_eos_token"));
}

TokenizerSpec parse_tokenizer_json(const std::filesystem::path& path) {
  Parser parser(path);
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec || !std::filesystem::is_regular_file(path, ec)) {
    throw ModelError("Cannot open the tokenizer file '" + path.string() +
                     "': it is missing or unreadable.");
  }
  if (size > kMaxFileBytes) {
    parser.fail("the file has " + std::to_string(size >> 20) + " MiB, more than the " +
                std::to_string(kMaxFileBytes >> 20) + " MiB any real tokenizer.json has");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ModelError("Cannot open the tokenizer file '" + path.string() + "': it is unreadable.");
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  json root;
  try {
    root = json::parse(text);
  } catch (const json::exception& e) {
    parser.fail(std::string("it is not valid JSON (") + e.what() + ")");
  }
  try {
    return parser.parse(root);
  } catch (const json::exception& e) {  // a field of a type the checks above did not foresee
    parser.fail(std::string("it has a field of the wrong type (") + e.what() + ")");
  }
}

}  // namespace atman::tokenizers::hf

namespace atman {

std::unique_ptr<Tokenizer> load_hf_tokenizer_json(const std::filesystem::path& tokenizer_json) {
  return tokenizers::hf::make_hf_tokenizer(tokenizers::hf::parse_tokenizer_json(tokenizer_json));
}

}  // namespace atman

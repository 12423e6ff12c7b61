// The text steps of a Hugging Face `tokenizers` pipeline. They work on MappedText, whose every code
// point remembers the span of the original text it came from: replacements inherit the span of
// what they replace, inserted text (a prefix "▁" or " ") gets an empty span where it was inserted.
#include <algorithm>
#include <string>

#include "atman/error.h"
#include "text/nfc.h"
#include "text/utf8.h"
#include "tokenizers/hf_tokenizer.h"

namespace atman::tokenizers::hf {

text::MappedText slice(const text::MappedText& t, size_t begin, size_t end) {
  text::MappedText out;
  out.text = t.text.substr(begin, end - begin);
  out.origin.assign(t.origin.begin() + static_cast<ptrdiff_t>(begin),
                    t.origin.begin() + static_cast<ptrdiff_t>(end));
  return out;
}

namespace {

void prepend(text::MappedText& t, std::u32string_view prefix) {
  const int64_t at = t.origin.empty() ? 0 : t.origin.front().first;
  t.text.insert(0, prefix);
  t.origin.insert(t.origin.begin(), prefix.size(), text::Span{at, at});
}

// Matches of `pattern` in `t` as code-point ranges.
std::vector<std::pair<size_t, size_t>> find_in(const Pattern& pattern, const text::MappedText& t) {
  const text::Utf8WithIndex utf8 = text::encode_utf8_indexed(t.text);
  auto cp = [&](size_t byte) {
    return byte == utf8.bytes.size() ? t.text.size() : static_cast<size_t>(utf8.cp_of_byte[byte]);
  };
  std::vector<std::pair<size_t, size_t>> out;
  for (const auto& [b, e] : pattern.find_all(utf8.bytes)) out.emplace_back(cp(b), cp(e));
  return out;
}

void replace(text::MappedText& t, const Pattern& pattern, std::u32string_view content) {
  const auto matches = find_in(pattern, t);
  if (matches.empty()) return;
  text::MappedText out;
  size_t done = 0;
  auto keep = [&](size_t end) {
    out.text.append(t.text, done, end - done);
    out.origin.insert(out.origin.end(), t.origin.begin() + static_cast<ptrdiff_t>(done),
                      t.origin.begin() + static_cast<ptrdiff_t>(end));
  };
  for (const auto& [b, e] : matches) {
    keep(b);
    out.text += content;
    out.origin.insert(out.origin.end(), content.size(), t.origin_of(b, e - 1));
    done = e;
  }
  keep(t.text.size());
  t = std::move(out);
}

// HF's NormalizedString::split: the matches and the text between them, each flagged, then merged or
// dropped according to `behavior`; empty pieces vanish.
void split(const text::MappedText& t, const Pattern& pattern, SplitBehavior behavior, bool invert,
           std::vector<text::MappedText>& out) {
  struct Part {
    size_t begin, end;
    bool match;
  };
  std::vector<Part> parts;
  size_t done = 0;
  for (const auto& [b, e] : find_in(pattern, t)) {
    if (b > done) parts.push_back({done, b, false});
    parts.push_back({b, e, true});
    done = e;
  }
  if (done < t.text.size()) parts.push_back({done, t.text.size(), false});
  if (invert) {
    for (auto& p : parts) p.match = !p.match;
  }
  std::vector<Part> pieces;  // `match` now means "remove"
  switch (behavior) {
    case SplitBehavior::kRemoved:
      pieces = parts;
      break;
    case SplitBehavior::kIsolated:
      for (const auto& p : parts) pieces.push_back({p.begin, p.end, false});
      break;
    case SplitBehavior::kMergedWithPrevious: {
      bool previous_match = false;
      for (const auto& p : parts) {
        if (p.match && !previous_match && !pieces.empty()) {
          pieces.back().end = p.end;
        } else {
          pieces.push_back({p.begin, p.end, false});
        }
        previous_match = p.match;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool next_match = false;  // walking backwards: whether the part after this one matched
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        if (it->match && !next_match && !pieces.empty()) {
          pieces.back().begin = it->begin;
        } else {
          pieces.push_back({it->begin, it->end, false});
        }
        next_match = it->match;
      }
      std::reverse(pieces.begin(), pieces.end());
      break;
    }
    case SplitBehavior::kContiguous: {
      bool previous_match = false;
      for (const auto& p : parts) {
        if (p.match == previous_match && !pieces.empty()) {
          pieces.back().end = p.end;
        } else {
          pieces.push_back({p.begin, p.end, false});
        }
        previous_match = p.match;
      }
      break;
    }
  }
  for (const auto& p : pieces) {
    if (!p.match && p.end > p.begin) out.push_back(slice(t, p.begin, p.end));
  }
}

void metaspace(text::MappedText t, const PreTokenizerStep& step,
               std::vector<text::MappedText>& out) {
  for (char32_t& c : t.text) {
    if (c == U' ') c = step.replacement;
  }
  const bool starts_with = !t.text.empty() && t.text.front() == step.replacement;
  // "first": only the piece that begins the original text (HF compares its original offset to 0).
  const bool first = t.origin.empty() || t.origin.front().first == 0;
  if (!starts_with && (step.prepend == PrependScheme::kAlways ||
                       (step.prepend == PrependScheme::kFirst && first))) {
    prepend(t, std::u32string(1, step.replacement));
  }
  if (!step.split) {
    out.push_back(std::move(t));
    return;
  }
  Pattern on_replacement;
  text::append_utf8(on_replacement.literal, step.replacement);
  split(t, on_replacement, SplitBehavior::kMergedWithNext, false, out);
}

// "<0xNN>" -> NN, or -1.
int byte_token(std::string_view token) {
  if (token.size() != 6 || !token.starts_with("<0x") || token.back() != '>') return -1;
  int value = 0;
  for (char c : token.substr(3, 2)) {
    const int digit = c >= '0' && c <= '9'   ? c - '0'
                      : c >= 'A' && c <= 'F' ? c - 'A' + 10
                      : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                             : -1;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

bool valid_utf8(std::string_view s) {
  return text::repair_utf8(s) == s;
}

std::string replace_all(std::string_view s, const Pattern& pattern, std::string_view content) {
  // Regexes need valid UTF-8; decoded bytes may end in the middle of a character.
  const std::string text = pattern.regex && !valid_utf8(s) ? text::repair_utf8(s) : std::string(s);
  std::string out;
  size_t done = 0;
  for (const auto& [b, e] : pattern.find_all(text)) {
    out.append(text, done, b - done).append(content);
    done = e;
  }
  return out.append(text, done);
}

}  // namespace

std::vector<std::pair<size_t, size_t>> Pattern::find_all(std::string_view text) const {
  if (regex) return regex->find_all(text);
  std::vector<std::pair<size_t, size_t>> out;
  if (literal.empty()) return out;
  for (size_t at = text.find(literal); at != std::string_view::npos;
       at = text.find(literal, at + literal.size())) {
    out.emplace_back(at, at + literal.size());
  }
  return out;
}

void normalize(const std::vector<NormalizerStep>& steps, text::MappedText& text) {
  for (const auto& step : steps) {
    switch (step.kind) {
      case NormalizerStep::Kind::kPrepend:
        if (!text.text.empty()) prepend(text, step.text);
        break;
      case NormalizerStep::Kind::kReplace:
        replace(text, step.pattern, step.text);
        break;
      case NormalizerStep::Kind::kStrip: {
        // Rust's char::is_whitespace is Unicode White_Space; stripped characters belong to no
        // token.
        size_t begin = 0, end = text.text.size();
        while (step.strip_left && begin < end && text::is_white_space(text.text[begin])) ++begin;
        while (step.strip_right && end > begin && text::is_white_space(text.text[end - 1])) --end;
        if (begin > 0 || end < text.text.size()) text = slice(text, begin, end);
        break;
      }
      case NormalizerStep::Kind::kNfc:
        text::to_nfc(text);
        break;
      case NormalizerStep::Kind::kNfkc:
        text::to_nfkc(text);
        break;
      case NormalizerStep::Kind::kLowercase:
        // Rust's str::to_lowercase: the full mapping with the final-sigma rule, as Python's.
        text = text::python_lower(text);
        break;
    }
  }
}

std::vector<text::MappedText> pre_tokenize(const std::vector<PreTokenizerStep>& steps,
                                           text::MappedText text) {
  std::vector<text::MappedText> pieces, next;
  if (!text.text.empty()) pieces.push_back(std::move(text));
  for (const auto& step : steps) {
    next.clear();
    for (auto& piece : pieces) {
      switch (step.kind) {
        case PreTokenizerStep::Kind::kSplit:
          split(piece, step.pattern, step.behavior, step.invert, next);
          break;
        case PreTokenizerStep::Kind::kMetaspace:
          metaspace(std::move(piece), step, next);
          break;
        case PreTokenizerStep::Kind::kPrefixSpace:
          if (piece.text.front() != U' ') prepend(piece, U" ");
          next.push_back(std::move(piece));
          break;
      }
    }
    pieces.swap(next);
  }
  return pieces;
}

std::string decode_tokens(const std::vector<DecoderStep>& steps, bool has_decoder,
                          std::vector<std::string> tokens) {
  if (!has_decoder) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
    return out;
  }
  for (const auto& step : steps) {
    switch (step.kind) {
      case DecoderStep::Kind::kByteLevel: {
        // As HF: a token whose every character is in the byte alphabet becomes those bytes; any
        // other token (an added token such as "<|im start|>" with a space, say) stays as it is.
        // Everything is then one string.
        std::string all;
        for (const auto& t : tokens) {
          const std::u32string chars = text::decode_utf8(t);
          const bool in_alphabet = std::all_of(chars.begin(), chars.end(),
                                               [](char32_t c) { return unicode_to_byte(c) >= 0; });
          all += in_alphabet ? token_bytes(t) : t;
        }
        tokens.assign(1, std::move(all));
        break;
      }
      case DecoderStep::Kind::kMetaspace: {
        Pattern on_replacement;
        on_replacement.literal = step.replacement;
        for (size_t i = 0; i < tokens.size(); ++i) {
          tokens[i] = replace_all(tokens[i], on_replacement, i == 0 && step.strip_first ? "" : " ");
        }
        break;
      }
      case DecoderStep::Kind::kReplace:
        for (auto& t : tokens) t = replace_all(t, step.pattern, step.content);
        break;
      case DecoderStep::Kind::kByteFallback: {
        // Runs of "<0xNN>" tokens become the characters their bytes spell, or one U+FFFD per byte
        // when they do not spell valid UTF-8.
        std::vector<std::string> out;
        std::string run;
        size_t run_tokens = 0;
        auto flush = [&] {
          if (run_tokens == 0) return;
          if (valid_utf8(run)) {
            out.push_back(run);
          } else {
            out.insert(out.end(), run_tokens, "\xEF\xBF\xBD");
          }
          run.clear();
          run_tokens = 0;
        };
        for (size_t i = 0; i < tokens.size(); ++i) {
          if (const int b = byte_token(tokens[i]); b >= 0) {
            run.push_back(static_cast<char>(b));
            ++run_tokens;
            continue;
          }
          flush();
          out.push_back(std::move(tokens[i]));
        }
        flush();
        tokens.swap(out);
        break;
      }
      case DecoderStep::Kind::kFuse: {
        std::string all;
        for (const auto& t : tokens) all += t;
        tokens.assign(1, std::move(all));
        break;
      }
      case DecoderStep::Kind::kStrip:
        for (auto& t : tokens) {
          for (int k = 0; k < step.start && !step.content.empty() && t.starts_with(step.content);
               ++k) {
            t.erase(0, step.content.size());
          }
          for (int k = 0; k < step.stop && !step.content.empty() && t.ends_with(step.content);
               ++k) {
            t.resize(t.size() - step.content.size());
          }
        }
        break;
    }
  }
  std::string out;
  for (const auto& t : tokens) out += t;
  return out;
}

std::string onig_to_pcre(std::string_view pattern) {
  const std::string ws(kWhiteSpaceClass);
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char next = pattern[++i];
      if (next == 's') {
        out += in_class ? ws : "[" + ws + "]";
      } else if (next == 'S' && !in_class) {
        out += "[^" + ws + "]";
      } else {
        out.push_back(c);
        out.push_back(next);
      }
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
      out.push_back(c);
      // A leading "^" and a "]" right after it are part of the class, not its end.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out.push_back(pattern[++i]);
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out.push_back(pattern[++i]);
      continue;
    }
    if (c == ']' && in_class) in_class = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace atman::tokenizers::hf

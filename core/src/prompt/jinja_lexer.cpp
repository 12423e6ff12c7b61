// Jinja lexer: template text and tag contents to tokens, with the whitespace rules applied the way
// jinja2's lexer does under HF's settings: newlines normalised to \n, one trailing newline dropped,
// `{%-` / `-%}` (and the {{ }} / {# #} forms) strip all whitespace on that side, trim_blocks drops
// the newline after a block or comment tag, lstrip_blocks drops the indentation before one (unless
// it is opened with `{%+`).
#include <cctype>
#include <cstdint>

#include "atman/error.h"
#include "prompt/jinja.h"
#include "text/utf8.h"

namespace atman::jinja {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

class Lexer {
 public:
  Lexer(std::string source, const std::string& name) : src_(std::move(source)), name_(name) {}

  std::vector<Token> run() {
    bool line_starting = true;  // the previous tag's match ended with a newline (jinja2's rule)
    while (pos_ < src_.size()) {
      const size_t tag = find_tag(pos_);
      std::string text = src_.substr(pos_, tag - pos_);
      if (tag == src_.size()) {
        emit_text(std::move(text));
        advance_to(tag);
        break;
      }
      const char kind = src_[tag + 1];  // '{', '%' or '#'
      const char sign = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
      if (sign == '-') {
        while (!text.empty() && is_space(text.back())) text.pop_back();
      } else if (sign != '+' && kind != '{') {
        // lstrip_blocks: only indentation between a line start and the tag goes.
        const size_t nl = text.rfind('\n');
        const size_t line_begin = nl == std::string::npos ? 0 : nl + 1;
        if (line_begin > 0 || line_starting) {
          bool blank = line_begin < text.size();
          for (size_t i = line_begin; i < text.size(); ++i) blank = blank && is_space(text[i]);
          if (blank) text.resize(line_begin);
        }
      }
      emit_text(std::move(text));
      advance_to(tag);
      const int tag_line = line_;
      advance_to(tag + 2 + (sign == '-' || sign == '+'));
      if (kind == '#')
        line_starting = close_comment(tag_line);
      else
        line_starting = lex_tag(kind == '{', tag_line);
    }
    tokens_.push_back({Token::Type::End, "", line_});
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void fail(int line, const std::string& what) const {
    throw InputError(name_ + ", line " + std::to_string(line) + ": " + what);
  }

  size_t find_tag(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#'))
        return i;
    }
    return src_.size();
  }

  void advance_to(size_t to) {
    for (; pos_ < to; ++pos_) line_ += src_[pos_] == '\n';
  }

  void emit_text(std::string text) {
    if (!text.empty()) tokens_.push_back({Token::Type::Text, std::move(text), line_});
  }

  // After a tag's closing marker at pos_ (already consumed up to `end`): `-` strips all following
  // whitespace, trim_blocks (block tags only, not after `+`) one newline. Returns whether what was
  // consumed ended with a newline.
  bool after_close(size_t end, char sign, bool block) {
    advance_to(end);
    bool newline = false;
    if (sign == '-') {
      while (pos_ < src_.size() && is_space(src_[pos_])) {
        newline = src_[pos_] == '\n';
        advance_to(pos_ + 1);
      }
    } else if (block && sign != '+' && pos_ < src_.size() && src_[pos_] == '\n') {
      advance_to(pos_ + 1);
      newline = true;
    }
    return newline;
  }

  bool close_comment(int open_line) {
    const size_t end = src_.find("#}", pos_);
    if (end == std::string::npos) fail(open_line, "'{#' comment is never closed with '#}'");
    const char sign =
        end > pos_ && (src_[end - 1] == '-' || src_[end - 1] == '+') ? src_[end - 1] : '\0';
    return after_close(end + 2, sign, true);
  }

  // The tokens of one {{ ... }} or {% ... %}; returns whether its closing consumed a newline.
  bool lex_tag(bool variable, int open_line) {
    tokens_.push_back({variable ? Token::Type::VarBegin : Token::Type::BlockBegin, "", open_line});
    int depth = 0;  // open brackets: a `}}` inside a dict literal does not close the tag
    for (;;) {
      while (pos_ < src_.size() && is_space(src_[pos_])) advance_to(pos_ + 1);
      if (pos_ >= src_.size())
        fail(open_line, std::string("'") + (variable ? "{{" : "{%") + "' is never closed with '" +
                            (variable ? "}}" : "%}") + "'");
      const std::string_view rest(src_.data() + pos_, src_.size() - pos_);
      const std::string_view close = variable ? "}}" : "%}";
      if (depth == 0) {
        for (const char sign : {'-', '+', '\0'}) {
          if (variable && sign == '+') continue;
          const size_t skip = sign ? 1 : 0;
          if ((!sign || rest.front() == sign) && rest.substr(skip, 2) == close) {
            tokens_.push_back({variable ? Token::Type::VarEnd : Token::Type::BlockEnd, "", line_});
            return after_close(pos_ + skip + 2, sign, !variable);
          }
        }
      }
      const char c = rest.front();
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t n = 1;
        while (n < rest.size() &&
               (std::isalnum(static_cast<unsigned char>(rest[n])) || rest[n] == '_'))
          ++n;
        push(Token::Type::Name, std::string(rest.substr(0, n)), n);
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        lex_number(rest);
      } else if (c == '\'' || c == '"') {
        lex_string(rest);
      } else {
        static constexpr std::string_view kTwo[] = {"**", "//", "==", "!=", "<=", ">="};
        size_t n = 0;
        for (auto op : kTwo)
          if (rest.substr(0, 2) == op) n = 2;
        if (n == 0 && std::string_view("+-*/%~<>=()[]{},.:|").find(c) != std::string_view::npos)
          n = 1;
        if (n == 0) fail(line_, std::string("unexpected character '") + c + "' in a tag");
        if (c == '(' || c == '[' || c == '{') ++depth;
        if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
        push(Token::Type::Operator, std::string(rest.substr(0, n)), n);
      }
    }
  }

  void push(Token::Type type, std::string text, size_t length) {
    tokens_.push_back({type, std::move(text), line_});
    advance_to(pos_ + length);
  }

  void lex_number(std::string_view rest) {
    size_t n = 0;
    auto digits = [&] {
      while (n < rest.size() &&
             (std::isdigit(static_cast<unsigned char>(rest[n])) || rest[n] == '_'))
        ++n;
    };
    digits();
    bool is_float = false;
    if (n + 1 < rest.size() && rest[n] == '.' &&
        std::isdigit(static_cast<unsigned char>(rest[n + 1]))) {
      is_float = true;
      ++n;
      digits();
    }
    if (n < rest.size() && (rest[n] == 'e' || rest[n] == 'E')) {
      size_t m = n + 1;
      if (m < rest.size() && (rest[m] == '+' || rest[m] == '-')) ++m;
      if (m < rest.size() && std::isdigit(static_cast<unsigned char>(rest[m]))) {
        is_float = true;
        n = m;
        digits();
      }
    }
    std::string text;
    for (char ch : rest.substr(0, n))
      if (ch != '_') text += ch;
    push(is_float ? Token::Type::Float : Token::Type::Integer, text, n);
  }

  // A Python string literal with its escapes (\n \t \r \\ \' \" \xNN \uNNNN \UNNNNNNNN; any other
  // backslash stays as written, as in Python).
  void lex_string(std::string_view rest) {
    const char quote = rest.front();
    std::string value;
    size_t i = 1;
    for (;; ++i) {
      if (i >= rest.size()) fail(line_, "a string literal is never closed");
      const char c = rest[i];
      if (c == quote) break;
      if (c != '\\' || i + 1 >= rest.size()) {
        value += c;
        continue;
      }
      const char e = rest[++i];
      auto hex = [&](size_t count) {
        uint32_t cp = 0;
        for (size_t k = 1; k <= count; ++k) {
          const char h = i + k < rest.size() ? rest[i + k] : '\0';
          if (!std::isxdigit(static_cast<unsigned char>(h)))
            fail(line_, "a bad \\x or \\u escape in a string");
          cp = cp * 16 + (std::isdigit(static_cast<unsigned char>(h))
                              ? h - '0'
                              : (std::tolower(h) - 'a' + 10));
        }
        i += count;
        if (cp > 0x10FFFF) fail(line_, "a \\U escape beyond U+10FFFF");
        text::append_utf8(value, static_cast<char32_t>(cp));
      };
      switch (e) {
        case 'n':
          value += '\n';
          break;
        case 't':
          value += '\t';
          break;
        case 'r':
          value += '\r';
          break;
        case '0':
          value += '\0';
          break;
        case '\\':
        case '\'':
        case '"':
          value += e;
          break;
        case '\n':
          break;  // a backslash-newline continues the literal
        case 'x':
          hex(2);
          break;
        case 'u':
          hex(4);
          break;
        case 'U':
          hex(8);
          break;
        default:
          value += '\\';
          value += e;
      }
    }
    push(Token::Type::String, std::move(value), i + 1);
  }

  std::string src_;
  const std::string& name_;
  size_t pos_ = 0;
  int line_ = 1;
  std::vector<Token> tokens_;
};

// jinja2 normalises \r\n and \r to \n and, with keep_trailing_newline off, drops one final newline.
std::string normalise(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace

std::vector<Token> lex(std::string_view source, const std::string& source_name) {
  return Lexer(normalise(source), source_name).run();
}

}  // namespace atman::jinja

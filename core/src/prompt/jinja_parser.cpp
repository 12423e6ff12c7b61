// Jinja parser: tokens to the syntax tree of jinja.h, by recursive descent with jinja2's operator
// precedence (lowest first): `x if c else y`, or, and, not, comparisons and `in`, + -, ~, * / // %,
// **, unary - +, then postfix (.attr [index] [a:b] (call)) and, at the same level, filters `|f`
// and tests `is t`. So `a + b | trim` trims b only, and `not x is defined` negates the test.
#include "atman/error.h"
#include "prompt/jinja.h"

namespace atman::jinja {
namespace {

using Type = Token::Type;

class Parser {
 public:
  Parser(std::vector<Token> tokens, const std::string& name)
      : tokens_(std::move(tokens)), name_(name) {}

  Body parse_template() {
    std::string end_tag;
    Body body = parse_body({}, end_tag);
    return body;
  }

 private:
  // ---- helpers ----
  const Token& peek(size_t ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  const Token& next() {
    const Token& t = peek();
    if (pos_ < tokens_.size() - 1) ++pos_;
    return t;
  }
  bool is_op(const char* op, size_t ahead = 0) const {
    return peek(ahead).type == Type::Operator && peek(ahead).text == op;
  }
  bool is_name(const char* name, size_t ahead = 0) const {
    return peek(ahead).type == Type::Name && peek(ahead).text == name;
  }
  bool accept_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool accept_name(const char* name) {
    if (!is_name(name)) return false;
    next();
    return true;
  }
  static std::string describe(const Token& t) {
    switch (t.type) {
      case Type::End:
        return "the end of the template";
      case Type::BlockEnd:
        return "'%}'";
      case Type::VarEnd:
        return "'}}'";
      case Type::Text:
        return "text";
      case Type::String:
        return "a string";
      default:
        return "'" + t.text + "'";
    }
  }
  [[noreturn]] void fail(int line, const std::string& what) const {
    throw InputError(name_ + ", line " + std::to_string(line) + ": " + what);
  }
  [[noreturn]] void unexpected(const std::string& wanted) const {
    fail(peek().line, "expected " + wanted + ", found " + describe(peek()));
  }
  void expect_op(const char* op) {
    if (!accept_op(op)) unexpected(std::string("'") + op + "'");
  }
  std::string expect_name() {
    if (peek().type != Type::Name) unexpected("a name");
    return next().text;
  }
  void expect_block_end() {
    if (peek().type != Type::BlockEnd) unexpected("'%}'");
    next();
  }
  // Guards the recursion against hostile nesting (a stack overflow would kill the process).
  struct Depth {
    Parser& p;
    explicit Depth(Parser& parser) : p(parser) {
      if (++p.depth_ > kMaxNesting)
        p.fail(p.peek().line, "nested more than " + std::to_string(kMaxNesting) + " levels deep");
    }
    ~Depth() { --p.depth_; }
    Depth(const Depth&) = delete;
    Depth& operator=(const Depth&) = delete;
  };

  // ---- statements ----

  // Nodes up to a `{% tag %}` whose tag is in `ends` (consumed up to the tag name, which is
  // returned in end_tag), or to the end of the template when `ends` is empty.
  Body parse_body(const std::vector<std::string>& ends, std::string& end_tag) {
    Depth depth(*this);
    Body body;
    const int open_line = peek().line;
    for (;;) {
      const Token& t = peek();
      if (t.type == Type::End) {
        if (ends.empty()) return body;
        fail(open_line, "this block is never closed: '{% " + ends.back() + " %}' is missing");
      }
      if (t.type == Type::Text) {
        Node n;
        n.line = t.line;
        n.text = next().text;
        body.push_back(std::move(n));
      } else if (t.type == Type::VarBegin) {
        Node n;
        n.kind = Node::Kind::Output;
        n.line = next().line;
        n.exprs.push_back(parse_expression());
        if (peek().type != Type::VarEnd) unexpected("'}}'");
        next();
        body.push_back(std::move(n));
      } else if (t.type == Type::BlockBegin) {
        next();
        if (peek().type != Type::Name) unexpected("a tag name after '{%'");
        const std::string tag = peek().text;
        for (const auto& end : ends) {
          if (tag == end) {
            next();
            end_tag = tag;
            return body;
          }
        }
        body.push_back(parse_statement());
      } else {
        unexpected("text or a tag");
      }
    }
  }

  Node parse_statement() {
    const Token& t = next();
    const std::string tag = t.text;
    Node n;
    n.line = t.line;
    std::string end;
    if (tag == "if") {
      n.kind = Node::Kind::If;
      n.exprs.push_back(parse_expression());
      expect_block_end();
      for (;;) {
        n.bodies.push_back(parse_body({"elif", "else", "endif"}, end));
        if (end == "elif") {
          n.exprs.push_back(parse_expression());
          expect_block_end();
        } else if (end == "else") {
          expect_block_end();
          n.bodies.push_back(parse_body({"endif"}, end));
          break;
        } else {
          break;
        }
      }
      expect_block_end();
    } else if (tag == "for") {
      n.kind = Node::Kind::For;
      do n.targets.push_back(expect_name());
      while (accept_op(","));
      if (!accept_name("in")) unexpected("'in'");
      n.exprs.push_back(parse_condition_free());  // `if` after the iterable filters the items
      n.exprs.push_back(accept_name("if") ? parse_expression() : nullptr);
      if (accept_name("recursive")) fail(n.line, "recursive for loops are not supported");
      expect_block_end();
      n.bodies.push_back(parse_body({"else", "endfor"}, end));
      if (end == "else") {
        expect_block_end();
        n.bodies.push_back(parse_body({"endfor"}, end));
      } else {
        n.bodies.emplace_back();
      }
      expect_block_end();
    } else if (tag == "set") {
      n.text = expect_name();
      if (accept_op(".")) n.attr = expect_name();
      if (accept_op("=")) {
        n.kind = Node::Kind::Set;
        n.exprs.push_back(parse_expression());
        expect_block_end();
      } else {
        if (!n.attr.empty()) unexpected("'='");
        n.kind = Node::Kind::SetBlock;
        expect_block_end();
        n.bodies.push_back(parse_body({"endset"}, end));
        expect_block_end();
      }
    } else if (tag == "macro") {
      n.kind = Node::Kind::Macro;
      n.text = expect_name();
      expect_op("(");
      while (!accept_op(")")) {
        if (!n.targets.empty()) expect_op(",");
        n.targets.push_back(expect_name());
        n.exprs.push_back(accept_op("=") ? parse_expression() : nullptr);
      }
      expect_block_end();
      n.bodies.push_back(parse_body({"endmacro"}, end));
      expect_block_end();
    } else if (tag == "generation") {
      // HF's AssistantTracker marks assistant text for masks; for rendering it is a plain block.
      n.kind = Node::Kind::Block;
      expect_block_end();
      n.bodies.push_back(parse_body({"endgeneration"}, end));
      expect_block_end();
    } else if (tag == "break" || tag == "continue") {
      n.kind = tag == "break" ? Node::Kind::Break : Node::Kind::Continue;
      expect_block_end();
    } else if (tag.rfind("end", 0) == 0 || tag == "elif" || tag == "else") {
      fail(n.line, "'{% " + tag + " %}' has no matching opening tag");
    } else {
      fail(n.line, "unknown tag '" + tag + "'");
    }
    return n;
  }

  // ---- expressions ----

  ExprPtr make(Expr::Kind kind, int line, std::string name = {}) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    e->name = std::move(name);
    return e;
  }
  ExprPtr binary(std::string op, ExprPtr left, ExprPtr right) {
    auto e = make(Expr::Kind::Binary, left->line, std::move(op));
    e->args.push_back(std::move(left));
    e->args.push_back(std::move(right));
    return e;
  }

  ExprPtr parse_expression() {
    Depth depth(*this);
    ExprPtr value = parse_or();
    while (is_name("if")) {
      const int line = next().line;
      auto e = make(Expr::Kind::Conditional, line);
      ExprPtr condition = parse_or();
      ExprPtr otherwise = accept_name("else") ? parse_expression() : nullptr;
      e->args.push_back(std::move(value));
      e->args.push_back(std::move(condition));
      e->args.push_back(std::move(otherwise));
      value = std::move(e);
    }
    return value;
  }
  // An expression without a trailing `x if c else y` (a for loop's iterable and filter).
  ExprPtr parse_condition_free() {
    Depth depth(*this);
    return parse_or();
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (accept_name("or")) left = binary("or", std::move(left), parse_and());
    return left;
  }
  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (accept_name("and")) left = binary("and", std::move(left), parse_not());
    return left;
  }
  ExprPtr parse_not() {
    if (is_name("not")) {
      Depth depth(*this);
      auto e = make(Expr::Kind::Unary, next().line, "not");
      e->args.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }
  ExprPtr parse_compare() {
    ExprPtr left = parse_add();
    for (;;) {
      std::string op;
      if (peek().type == Type::Operator &&
          (is_op("==") || is_op("!=") || is_op("<") || is_op(">") || is_op("<=") || is_op(">="))) {
        op = next().text;
      } else if (accept_name("in")) {
        op = "in";
      } else if (is_name("not") && is_name("in", 1)) {
        next();
        next();
        op = "not in";
      } else {
        return left;
      }
      left = binary(op, std::move(left), parse_add());
    }
  }
  ExprPtr parse_add() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      std::string op = next().text;
      left = binary(op, std::move(left), parse_concat());
    }
    return left;
  }
  ExprPtr parse_concat() {
    ExprPtr left = parse_multiply();
    while (accept_op("~")) left = binary("~", std::move(left), parse_multiply());
    return left;
  }
  ExprPtr parse_multiply() {
    ExprPtr left = parse_power();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      std::string op = next().text;
      left = binary(op, std::move(left), parse_power());
    }
    return left;
  }
  ExprPtr parse_power() {
    ExprPtr left = parse_unary(true);
    while (accept_op("**")) left = binary("**", std::move(left), parse_unary(true));
    return left;
  }
  ExprPtr parse_unary(bool with_filters) {
    Depth depth(*this);
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      const Token& t = next();
      e = make(Expr::Kind::Unary, t.line, t.text);
      e->args.push_back(parse_unary(false));
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    return with_filters ? parse_filters(std::move(e)) : std::move(e);
  }

  ExprPtr parse_primary() {
    const Token& t = peek();
    switch (t.type) {
      case Type::Name: {
        next();
        if (t.text == "true" || t.text == "True") return literal(true, t.line);
        if (t.text == "false" || t.text == "False") return literal(false, t.line);
        if (t.text == "none" || t.text == "None") return literal(nullptr, t.line);
        return make(Expr::Kind::Name, t.line, t.text);
      }
      case Type::String: {
        std::string s = next().text;
        while (peek().type == Type::String) s += next().text;  // adjacent literals concatenate
        return literal(std::move(s), t.line);
      }
      case Type::Integer:
        try {
          return literal(std::stoll(next().text), t.line);
        } catch (const std::out_of_range&) {
          fail(t.line, "the integer " + t.text + " is too large");
        }
      case Type::Float:
        return literal(std::stod(next().text), t.line);
      case Type::Operator:
        if (t.text == "(") {
          next();
          if (accept_op(")")) return make(Expr::Kind::List, t.line);  // () is an empty tuple
          ExprPtr first = parse_expression();
          if (accept_op(")")) return first;
          auto tuple = make(Expr::Kind::List, t.line);  // tuples are lists here
          tuple->args.push_back(std::move(first));
          while (accept_op(",")) {
            if (is_op(")")) break;
            tuple->args.push_back(parse_expression());
          }
          expect_op(")");
          return tuple;
        }
        if (t.text == "[") {
          next();
          auto list = make(Expr::Kind::List, t.line);
          while (!accept_op("]")) {
            if (!list->args.empty()) {
              expect_op(",");
              if (accept_op("]")) break;
            }
            list->args.push_back(parse_expression());
          }
          return list;
        }
        if (t.text == "{") {
          next();
          auto dict = make(Expr::Kind::Dict, t.line);
          while (!accept_op("}")) {
            if (!dict->args.empty()) {
              expect_op(",");
              if (accept_op("}")) break;
            }
            dict->args.push_back(parse_expression());
            expect_op(":");
            dict->args.push_back(parse_expression());
          }
          return dict;
        }
        break;
      default:
        break;
    }
    unexpected("an expression");
  }
  ExprPtr literal(Value v, int line) {
    auto e = make(Expr::Kind::Literal, line);
    e->value = std::move(v);
    return e;
  }

  ExprPtr parse_postfix(ExprPtr e) {
    for (;;) {
      if (is_op(".")) {
        const int line = next().line;
        // `x.0` is item 0 in Jinja; a name otherwise.
        if (peek().type == Type::Integer) {
          auto index = make(Expr::Kind::Index, line);
          index->args.push_back(std::move(e));
          index->args.push_back(literal(std::stoll(next().text), line));
          e = std::move(index);
          continue;
        }
        auto attr = make(Expr::Kind::Attribute, line, expect_name());
        attr->args.push_back(std::move(e));
        e = std::move(attr);
      } else if (is_op("[")) {
        e = parse_subscript(std::move(e));
      } else if (is_op("(")) {
        auto call = make(Expr::Kind::Call, next().line);
        call->args.push_back(std::move(e));
        parse_arguments(*call);
        e = std::move(call);
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr object) {
    const int line = next().line;  // '['
    ExprPtr parts[3];
    int colons = 0;
    for (;;) {
      if (is_op(":")) {
        next();
        if (++colons > 2) unexpected("']'");
        continue;
      }
      if (accept_op("]")) break;
      if (parts[colons]) unexpected(colons ? "']'" : "':' or ']'");
      parts[colons] = parse_expression();
    }
    if (colons == 0) {
      if (!parts[0]) fail(line, "an empty subscript []");
      auto e = make(Expr::Kind::Index, line);
      e->args.push_back(std::move(object));
      e->args.push_back(std::move(parts[0]));
      return e;
    }
    auto e = make(Expr::Kind::Slice, line);
    e->args.push_back(std::move(object));
    for (auto& p : parts) e->args.push_back(std::move(p));
    return e;
  }

  // `(a, b, key=value)` after the '(' was consumed, into e.args (after what is there) and e.kwargs.
  void parse_arguments(Expr& e) {
    bool first = true;
    while (!accept_op(")")) {
      if (!first) {
        expect_op(",");
        if (accept_op(")")) break;
      }
      first = false;
      if (peek().type == Type::Name && is_op("=", 1)) {
        std::string key = next().text;
        next();
        e.kwargs.emplace_back(std::move(key), parse_expression());
      } else {
        if (!e.kwargs.empty()) fail(peek().line, "a positional argument after a keyword argument");
        e.args.push_back(parse_expression());
      }
    }
  }

  // `| filter`, `| filter(args)`, `is [not] test`, `is test(args)`, `is test arg`.
  ExprPtr parse_filters(ExprPtr e) {
    for (;;) {
      if (is_op("|")) {
        const int line = next().line;
        auto f = make(Expr::Kind::Filter, line, dotted_name());
        f->args.push_back(std::move(e));
        if (accept_op("(")) parse_arguments(*f);
        e = std::move(f);
      } else if (is_name("is")) {
        const int line = next().line;
        const bool negated = accept_name("not");
        auto t = make(Expr::Kind::Test, line, dotted_name());
        t->negated = negated;
        t->args.push_back(std::move(e));
        if (accept_op("(")) {
          parse_arguments(*t);
        } else if (starts_test_argument()) {
          t->args.push_back(parse_postfix(parse_primary()));
        }
        e = std::move(t);
      } else {
        return e;
      }
    }
  }
  std::string dotted_name() {
    std::string name = expect_name();
    while (accept_op(".")) {
      name += '.';
      name += expect_name();
    }
    return name;
  }
  // jinja2: a test takes one argument without parentheses (`is divisibleby 3`, `is sameas none`)
  // when a primary expression follows that does not read as the rest of the condition.
  bool starts_test_argument() const {
    const Token& t = peek();
    if (t.type == Type::Name)
      return t.text != "else" && t.text != "or" && t.text != "and" && t.text != "if" &&
             t.text != "in" && t.text != "not" && t.text != "is";
    if (t.type == Type::String || t.type == Type::Integer || t.type == Type::Float) return true;
    return is_op("[") || is_op("{");
  }

  std::vector<Token> tokens_;
  const std::string& name_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

Template parse(std::string_view source, const std::string& source_name) {
  Template t;
  t.source_name = source_name;
  t.body = Parser(lex(source, source_name), source_name).parse_template();
  return t;
}

}  // namespace atman::jinja

// A small Jinja2 interpreter for Hugging Face chat templates (core-internal; the public API is
// atman/prompt.h). It implements the subset real chat templates use, with the settings HF renders
// them under: trim_blocks, lstrip_blocks, keep_trailing_newline off, the loopcontrols extension
// (break / continue), `tojson` as Python's json.dumps(ensure_ascii=False), `raise_exception(msg)`
// and `strftime_now(fmt)` as globals, and no autoescaping.
//
// Three stages, one file each: jinja_lexer.cpp (text and tag tokens, whitespace control),
// jinja_parser.cpp (the syntax tree below), jinja_eval.cpp (rendering, scopes, limits);
// jinja_value.cpp holds Python's value semantics (str(), repr(), truthiness, comparison,
// json.dumps) and jinja_builtins.cpp the filters, tests, methods and global functions.
//
// Values are nlohmann::ordered_json (dicts keep insertion order, as Python's do). Jinja's Undefined
// is a `discarded` json value: it prints as "", is falsy and iterates as empty; unlike Jinja, an
// attribute or item of an undefined value is undefined too instead of an error.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace atman::jinja {

using Value = nlohmann::ordered_json;

// Bounds that keep a hostile template from hanging or exhausting memory. Real chat templates stay
// orders of magnitude below each.
inline constexpr size_t kMaxOutputBytes = 4u << 20;  // rendered text, and any one string value
inline constexpr size_t kMaxListItems = 100000;      // any one list or dict, range() included
// All for-loop iterations of one render. An iteration costs ~1.5 us even with an empty body (the
// loop variables are rebuilt each time; ~36 us in the sanitizer build), so 10^6 let a 90-byte
// template of two nested range() loops stall rendering for 1.5 s (past the fuzzers' 30 s hang
// limit under ASan). Chat templates loop over messages, tools and content parts: far below.
inline constexpr long kMaxLoopIterations = 100000;
inline constexpr long kMaxWork = 50000000;  // evaluation steps, weighted by value size
inline constexpr int kMaxNesting = 100;     // nested tags and parentheses
inline constexpr int kMaxCallDepth = 20;    // macro calls inside macro calls

// A failure inside the interpreter, without position; the evaluator adds the template's name and
// the line and turns it into an atman::InputError.
class EvalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ---- tokens (jinja_lexer.cpp) ----

struct Token {
  enum class Type {
    Text,        // literal template text, whitespace control already applied
    VarBegin,    // {{
    VarEnd,      // }}
    BlockBegin,  // {%
    BlockEnd,    // %}
    Name,        // identifiers and keywords (and, or, not, in, is, if, else, true, none, ...)
    String,      // a string literal, escapes resolved
    Integer,
    Float,
    Operator,  // + - * / // % ** ~ == != < > <= >= = ( ) [ ] { } , . : |
    End,       // end of the template
  };
  Type type;
  std::string text;
  int line;
};

// Splits a template into tokens. Throws InputError "<source_name>, line N: ..." for an unclosed
// tag, comment or string, or a character that belongs to no token.
std::vector<Token> lex(std::string_view source, const std::string& source_name);

// ---- syntax tree (jinja_parser.cpp) ----

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    Literal,      // value
    Name,         // name
    List,         // args = items
    Dict,         // args = key, value, key, value, ...
    Unary,        // name = "-" | "+" | "not"; args = {operand}
    Binary,       // name = operator (+ - * / // % ** ~ == != < > <= >= in "not in" and or)
    Conditional,  // args = {then, condition, otherwise (may be null)}
    Attribute,    // args = {object}; name = attribute
    Index,        // args = {object, index}
    Slice,        // args = {object, start, stop, step}, each of the last three may be null
    Call,         // args = {callee, arguments...}; kwargs
    Filter,       // name = filter; args = {subject, arguments...}; kwargs
    Test,         // name = test; args = {subject, arguments...}; negated for "is not"
  };
  Kind kind;
  int line = 0;
  Value value;
  std::string name;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  bool negated = false;
};

struct Node;
using Body = std::vector<Node>;

struct Node {
  enum class Kind {
    Text,      // text
    Output,    // {{ exprs[0] }}
    If,        // exprs = conditions of if / elif...; bodies = one per condition, then else
    For,       // targets in exprs[0] [if exprs[1]]; bodies = {body, else}
    Set,       // {% set name[.attr] = exprs[0] %}
    SetBlock,  // {% set name %}bodies[0]{% endset %}
    Macro,     // {% macro name(targets...) %}; exprs = defaults (null = required)
    Break,
    Continue,
    Block,  // a block rendered as is: {% generation %}
  };
  Kind kind = Kind::Text;
  int line = 0;
  std::string text;  // Text: the text; Set / SetBlock / Macro: the name
  std::string attr;  // Set: the attribute of `ns.attr = ...`, else empty
  std::vector<std::string> targets;
  std::vector<ExprPtr> exprs;
  std::vector<Body> bodies;
};

struct Template {
  std::string source_name;  // for error messages, e.g. "tokenizer_config.json (chat_template)"
  Body body;
};

// Parses a template. Throws InputError "<source_name>, line N: ..." on a syntax error.
Template parse(std::string_view source, const std::string& source_name);

// ---- rendering (jinja_eval.cpp) ----

// Renders with the given top-level variables (a json object). Throws InputError naming the
// template and the line for an evaluation error or an exceeded limit, and InputError
// "<source_name>: <message>" for raise_exception(message).
std::string render(const Template& tmpl, const Value& variables);

// ---- Python value semantics (jinja_value.cpp) ----

Value undefined();
bool is_undefined(const Value& v);
bool truthy(const Value& v);
std::string type_name(const Value& v);  // Python's name: 'str', 'int', 'dict', ...
std::string to_str(const Value& v);     // str(v): None, True, 1.5, ['a', 1], {'k': 'v'}
std::string repr(const Value& v);       // repr(v)
// json.dumps(v, ensure_ascii=False, indent=indent (< 0: None), sort_keys=sort_keys).
std::string to_json_text(const Value& v, int indent, bool sort_keys);
bool equals(const Value& a, const Value& b);  // Python ==: 1 == 1.0 == True
int compare(const Value& a, const Value& b);  // <0, 0, >0; EvalError for unorderable types
bool contains(const Value& container, const Value& item);  // Python `item in container`
// `object[key]` / `object.key`: a dict's entry, a list's or string's item (negative indices count
// from the end); undefined when there is none.
Value lookup(const Value& object, const Value& key);
// The entry `lookup` would copy, or null when there is none (saves copying whole containers).
const Value* lookup_ref(const Value& object, const Value& key);
// The items a for loop visits: a list's elements, a dict's keys, a string's characters; none for
// undefined. EvalError for anything else.
std::vector<Value> iterate(const Value& v);
// Throws EvalError when a string or list grew past kMaxOutputBytes / kMaxListItems.
void check_size(const Value& v);
// Unicode code points of a UTF-8 string, each as its UTF-8 bytes (for len, indexing, slicing).
std::vector<std::string> code_points(const std::string& s);

// ---- filters, tests, methods, functions (jinja_builtins.cpp) ----

struct Arguments {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> named;
  // The named argument `name`, else positional[index], else `fallback`.
  Value get(const std::string& name, size_t index, const Value& fallback) const;
};

Value apply_filter(const std::string& name, const Value& subject, const Arguments& args);
bool apply_test(const std::string& name, const Value& subject, const Arguments& args);
// A method of a string (upper, strip, split, ...) or dict (items, get, keys, values).
Value call_method(const Value& object, const std::string& name, const Arguments& args);
// range, namespace, dict and strftime_now; false when `name` is none of them.
bool call_function(const std::string& name, const Arguments& args, Value& result);

}  // namespace atman::jinja

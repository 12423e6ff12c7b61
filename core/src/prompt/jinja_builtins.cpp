// The filters, tests, methods and global functions that chat templates call, with jinja2 3.1's
// and Python's semantics. Case mapping (upper, lower, title, ...) covers ASCII letters only.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <functional>
#include <map>

#include "prompt/jinja.h"

namespace atman::jinja {
namespace {

using Filter = std::function<Value(const Value&, const Arguments&)>;
using Test = std::function<bool(const Value&, const Arguments&)>;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string ascii_map(std::string s, int (*f)(int)) {
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x80) c = static_cast<char>(f(c));
  return s;
}
bool is_alpha(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0;
}

// str.strip / lstrip / rstrip: whitespace, or the characters of `chars`.
std::string strip(const std::string& s, const Value& chars, bool left, bool right) {
  auto drop = [&](char c) {
    return chars.is_string() ? chars.get_ref<const std::string&>().find(c) != std::string::npos
                             : is_space(c);
  };
  size_t b = 0, e = s.size();
  if (left)
    while (b < e && drop(s[b])) ++b;
  if (right)
    while (e > b && drop(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// str.split(sep=None, maxsplit=-1).
Value split(const std::string& s, const Value& sep, int64_t maxsplit) {
  Value out = Value::array();
  if (!sep.is_string()) {  // runs of whitespace, no empty parts
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && is_space(s[i])) ++i;
      if (i >= s.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
        out.push_back(strip(s.substr(i), nullptr, false, true));
        break;
      }
      size_t j = i;
      while (j < s.size() && !is_space(s[j])) ++j;
      out.push_back(s.substr(i, j - i));
      i = j;
    }
    return out;
  }
  const std::string& d = sep.get_ref<const std::string&>();
  if (d.empty()) throw EvalError("split(): empty separator");
  size_t from = 0;
  for (size_t at; (at = s.find(d, from)) != std::string::npos;) {
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) break;
    out.push_back(s.substr(from, at - from));
    from = at + d.size();
  }
  out.push_back(s.substr(from));
  return out;
}

std::string replace(const std::string& s, const std::string& old, const std::string& with,
                    int64_t count) {
  if (old.empty()) throw EvalError("replace(): an empty string to replace is not supported");
  std::string out;
  size_t from = 0;
  for (size_t at; count != 0 && (at = s.find(old, from)) != std::string::npos; --count) {
    out += s.substr(from, at - from) + with;
    from = at + old.size();
    if (out.size() > kMaxOutputBytes) throw EvalError("replace(): the result is too large");
  }
  return out + s.substr(from);
}

// str.title(): a letter after a non-letter is upper case, every other letter lower case.
std::string python_title(std::string s) {
  bool previous_letter = false;
  for (char& c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      previous_letter = false;
      continue;
    }
    const bool letter = is_alpha(c);
    if (letter) c = static_cast<char>(previous_letter ? std::tolower(c) : std::toupper(c));
    previous_letter = letter;
  }
  return s;
}

// jinja2's `title` filter: words begin after '-', whitespace, '(', '{', '[' or '<'.
std::string jinja_title(const std::string& s) {
  std::string out;
  bool word_start = true;
  for (char c : s) {
    const bool boundary = c == '-' || is_space(c) || c == '(' || c == '{' || c == '[' || c == '<';
    if (boundary) {
      out += c;
      word_start = true;
    } else {
      out += static_cast<unsigned char>(c) < 0x80
                 ? static_cast<char>(word_start ? std::toupper(c) : std::tolower(c))
                 : c;
      word_start = false;
    }
  }
  return out;
}

std::string capitalize(const std::string& s) {
  std::string out = ascii_map(s, [](int c) { return std::tolower(c); });
  if (!out.empty() && static_cast<unsigned char>(out[0]) < 0x80)
    out[0] = static_cast<char>(std::toupper(out[0]));
  return out;
}

int64_t to_int(const Value& v, const char* what) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_boolean()) return v.get<bool>();
  throw EvalError(std::string(what) + " must be an integer, not '" + type_name(v) + "'");
}

int64_t length(const Value& v) {
  if (v.is_string())
    return static_cast<int64_t>(code_points(v.get_ref<const std::string&>()).size());
  if (v.is_array() || v.is_object()) return static_cast<int64_t>(v.size());
  if (v.is_discarded()) return 0;
  throw EvalError("object of type '" + type_name(v) + "' has no len()");
}

// An item's attribute as selectattr / map / join / sort name it: "a" or a dotted path "a.b".
Value attribute_path(const Value& item, const std::string& path) {
  Value v = item;
  size_t from = 0;
  for (;;) {
    const size_t dot = path.find('.', from);
    const std::string part =
        path.substr(from, dot == std::string::npos ? std::string::npos : dot - from);
    const bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    v = numeric && v.is_array() ? lookup(v, std::stoll(part)) : lookup(v, part);
    if (dot == std::string::npos) return v;
    from = dot + 1;
  }
}

// The test name and its arguments from a select/selectattr argument list starting at `first`.
bool run_test_from(const Value& v, const Arguments& args, size_t first) {
  if (args.positional.size() <= first) return truthy(v);
  Arguments rest;
  rest.positional.assign(args.positional.begin() + static_cast<std::ptrdiff_t>(first) + 1,
                         args.positional.end());
  const Value& name = args.positional[first];
  if (!name.is_string()) throw EvalError("a test name must be a string");
  return apply_test(name.get<std::string>(), v, rest);
}

Value select(const Value& seq, const Arguments& args, bool by_attribute, bool keep) {
  Value out = Value::array();
  for (const Value& item : iterate(seq)) {
    Value subject = item;
    if (by_attribute) {
      const Value name = args.get("attribute", 0, nullptr);
      if (!name.is_string()) throw EvalError("selectattr / rejectattr need an attribute name");
      subject = attribute_path(item, name.get<std::string>());
    }
    if (run_test_from(subject, args, by_attribute ? 1 : 0) == keep) out.push_back(item);
  }
  return out;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// jinja2's indent(width=4, first=False, blank=False).
std::string indent(const std::string& s, const Value& width, bool first, bool blank) {
  const std::string pad =
      width.is_string()
          ? width.get<std::string>()
          : std::string(static_cast<size_t>(std::max<int64_t>(0, to_int(width, "indent width"))),
                        ' ');
  std::vector<std::string> lines;
  size_t from = 0;
  for (size_t at; (at = s.find('\n', from)) != std::string::npos; from = at + 1)
    lines.push_back(s.substr(from, at - from));
  lines.push_back(s.substr(from));  // s + "\n" split into lines: the last part is s's tail
  std::string out = lines.front();
  for (size_t i = 1; i < lines.size(); ++i) {
    out += '\n';
    if (blank || !lines[i].empty()) out += pad;
    out += lines[i];
  }
  return first ? pad + out : out;
}

const std::map<std::string, Filter>& filters() {
  static const std::map<std::string, Filter> table = [] {
    std::map<std::string, Filter> f;
    f["trim"] = [](const Value& v, const Arguments& a) {
      return Value(strip(to_str(v), a.get("chars", 0, nullptr), true, true));
    };
    f["length"] = [](const Value& v, const Arguments&) { return Value(length(v)); };
    f["count"] = f["length"];
    f["upper"] = [](const Value& v, const Arguments&) {
      return Value(ascii_map(to_str(v), [](int c) { return std::toupper(c); }));
    };
    f["lower"] = [](const Value& v, const Arguments&) {
      return Value(ascii_map(to_str(v), [](int c) { return std::tolower(c); }));
    };
    f["capitalize"] = [](const Value& v, const Arguments&) { return Value(capitalize(to_str(v))); };
    f["title"] = [](const Value& v, const Arguments&) { return Value(jinja_title(to_str(v))); };
    f["string"] = [](const Value& v, const Arguments&) { return Value(to_str(v)); };
    f["safe"] = [](const Value& v, const Arguments&) { return v; };
    f["escape"] = [](const Value& v, const Arguments&) { return Value(html_escape(to_str(v))); };
    f["e"] = f["escape"];
    f["tojson"] = [](const Value& v, const Arguments& a) {
      for (const auto& [name, value] : a.named)
        if (name != "indent" && name != "sort_keys" && name != "ensure_ascii")
          throw EvalError("tojson: the argument '" + name + "' is not supported");
      if (truthy(a.get("ensure_ascii", 99, false)))
        throw EvalError("tojson: ensure_ascii=True is not supported");
      const Value ind = a.get("indent", 0, nullptr);
      return Value(to_json_text(v, ind.is_null() ? -1 : static_cast<int>(to_int(ind, "indent")),
                                truthy(a.get("sort_keys", 99, false))));
    };
    f["join"] = [](const Value& v, const Arguments& a) {
      const Value sep = a.get("d", 0, "");
      const Value attr = a.get("attribute", 1, nullptr);
      std::string out;
      bool first = true;
      for (const Value& item : iterate(v)) {
        if (!first) out += to_str(sep);
        first = false;
        out += to_str(attr.is_string() ? attribute_path(item, attr.get<std::string>()) : item);
        if (out.size() > kMaxOutputBytes) throw EvalError("join: the result is too large");
      }
      return Value(out);
    };
    f["first"] = [](const Value& v, const Arguments&) {
      auto items = iterate(v);
      return items.empty() ? undefined() : items.front();
    };
    f["last"] = [](const Value& v, const Arguments&) {
      auto items = iterate(v);
      return items.empty() ? undefined() : items.back();
    };
    f["default"] = [](const Value& v, const Arguments& a) {
      const bool boolean = truthy(a.get("boolean", 1, false));
      return is_undefined(v) || (boolean && !truthy(v)) ? a.get("default_value", 0, "") : v;
    };
    f["d"] = f["default"];
    f["selectattr"] = [](const Value& v, const Arguments& a) { return select(v, a, true, true); };
    f["rejectattr"] = [](const Value& v, const Arguments& a) { return select(v, a, true, false); };
    f["select"] = [](const Value& v, const Arguments& a) { return select(v, a, false, true); };
    f["reject"] = [](const Value& v, const Arguments& a) { return select(v, a, false, false); };
    f["map"] = [](const Value& v, const Arguments& a) {
      Value out = Value::array();
      const Value attr = a.get("attribute", 999, nullptr);
      if (attr.is_string()) {
        const Value fallback = a.get("default", 999, undefined());
        for (const Value& item : iterate(v)) {
          Value x = attribute_path(item, attr.get<std::string>());
          out.push_back(is_undefined(x) ? fallback : x);
        }
        return out;
      }
      if (a.positional.empty() || !a.positional[0].is_string())
        throw EvalError("map needs attribute='name' or a filter name");
      Arguments rest;
      rest.positional.assign(a.positional.begin() + 1, a.positional.end());
      rest.named = a.named;
      for (const Value& item : iterate(v))
        out.push_back(apply_filter(a.positional[0].get<std::string>(), item, rest));
      return out;
    };
    f["list"] = [](const Value& v, const Arguments&) {
      Value out = Value::array();
      for (Value& item : iterate(v)) out.push_back(std::move(item));
      return out;
    };
    f["items"] = [](const Value& v, const Arguments&) { return call_method(v, "items", {}); };
    f["reverse"] = [](const Value& v, const Arguments&) {
      auto items = iterate(v);
      std::reverse(items.begin(), items.end());
      if (v.is_string()) {
        std::string s;
        for (const auto& c : items) s += c.get<std::string>();
        return Value(s);
      }
      return Value(items);
    };
    f["sort"] = [](const Value& v, const Arguments& a) {
      auto items = iterate(v);
      const bool reverse = truthy(a.get("reverse", 0, false));
      const bool case_sensitive = truthy(a.get("case_sensitive", 1, false));
      const Value attr = a.get("attribute", 2, nullptr);
      auto key = [&](const Value& x) {
        Value k = attr.is_string() ? attribute_path(x, attr.get<std::string>()) : x;
        if (!case_sensitive && k.is_string())
          k = ascii_map(k.get<std::string>(), [](int c) { return std::tolower(c); });
        return k;
      };
      std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
        return reverse ? compare(key(y), key(x)) < 0 : compare(key(x), key(y)) < 0;
      });
      return Value(items);
    };
    f["int"] = [](const Value& v, const Arguments& a) {
      const Value fallback = a.get("default", 0, 0);
      if (v.is_number_integer() || v.is_boolean()) return Value(to_int(v, "int"));
      if (v.is_number_float())
        return std::isfinite(v.get<double>()) ? Value(static_cast<int64_t>(v.get<double>()))
                                              : fallback;
      if (v.is_string()) {
        const std::string s = strip(v.get<std::string>(), nullptr, true, true);
        try {
          size_t used = 0;
          const long long i = std::stoll(s, &used);
          if (used == s.size()) return Value(static_cast<int64_t>(i));
          const double d = std::stod(s, &used);
          if (used == s.size() && std::isfinite(d)) return Value(static_cast<int64_t>(d));
        } catch (const std::exception&) {
        }
      }
      return fallback;
    };
    f["float"] = [](const Value& v, const Arguments& a) {
      const Value fallback = a.get("default", 0, 0.0);
      if (v.is_number() || v.is_boolean())
        return Value(v.is_boolean() ? (v.get<bool>() ? 1.0 : 0.0) : v.get<double>());
      if (v.is_string()) {
        try {
          size_t used = 0;
          const std::string s = strip(v.get<std::string>(), nullptr, true, true);
          const double d = std::stod(s, &used);
          if (used == s.size()) return Value(d);
        } catch (const std::exception&) {
        }
      }
      return fallback;
    };
    f["abs"] = [](const Value& v, const Arguments&) {
      if (v.is_number_integer()) return Value(std::abs(v.get<int64_t>()));
      if (v.is_number_float()) return Value(std::fabs(v.get<double>()));
      throw EvalError("abs: not a number");
    };
    f["replace"] = [](const Value& v, const Arguments& a) {
      const Value count = a.get("count", 2, nullptr);
      return Value(replace(to_str(v), to_str(a.get("old", 0, "")), to_str(a.get("new", 1, "")),
                           count.is_null() ? -1 : to_int(count, "count")));
    };
    f["indent"] = [](const Value& v, const Arguments& a) {
      return Value(indent(to_str(v), a.get("width", 0, 4), truthy(a.get("first", 1, false)),
                          truthy(a.get("blank", 2, false))));
    };
    f["unique"] = [](const Value& v, const Arguments&) {
      Value out = Value::array();
      for (const Value& item : iterate(v))
        if (!contains(out, item)) out.push_back(item);
      return out;
    };
    f["sum"] = [](const Value& v, const Arguments& a) {
      const Value attr = a.get("attribute", 0, nullptr);
      int64_t i = to_int(a.get("start", 1, 0), "start");
      double d = 0;
      bool is_float = false;
      for (const Value& item : iterate(v)) {
        const Value x = attr.is_string() ? attribute_path(item, attr.get<std::string>()) : item;
        if (x.is_number_float()) {
          is_float = true;
          d += x.get<double>();
        } else {
          i += to_int(x, "sum item");
        }
      }
      return is_float ? Value(d + static_cast<double>(i)) : Value(i);
    };
    return f;
  }();
  return table;
}

const std::map<std::string, Test>& tests() {
  static const std::map<std::string, Test> table = [] {
    std::map<std::string, Test> t;
    auto arg = [](const Arguments& a) {
      if (a.positional.empty()) throw EvalError("this test needs an argument");
      return a.positional[0];
    };
    t["defined"] = [](const Value& v, const Arguments&) { return !is_undefined(v); };
    t["undefined"] = [](const Value& v, const Arguments&) { return is_undefined(v); };
    t["none"] = [](const Value& v, const Arguments&) { return v.is_null(); };
    t["string"] = [](const Value& v, const Arguments&) { return v.is_string(); };
    t["number"] = [](const Value& v, const Arguments&) { return v.is_number(); };
    t["integer"] = [](const Value& v, const Arguments&) { return v.is_number_integer(); };
    t["float"] = [](const Value& v, const Arguments&) { return v.is_number_float(); };
    t["boolean"] = [](const Value& v, const Arguments&) { return v.is_boolean(); };
    t["true"] = [](const Value& v, const Arguments&) { return v.is_boolean() && v.get<bool>(); };
    t["false"] = [](const Value& v, const Arguments&) { return v.is_boolean() && !v.get<bool>(); };
    t["mapping"] = [](const Value& v, const Arguments&) { return v.is_object(); };
    t["iterable"] = [](const Value& v, const Arguments&) {
      return v.is_array() || v.is_object() || v.is_string() || is_undefined(v);
    };
    t["sequence"] = [](const Value& v, const Arguments&) {
      return v.is_array() || v.is_object() || v.is_string();
    };
    t["callable"] = [](const Value&, const Arguments&) { return false; };
    t["equalto"] = [arg](const Value& v, const Arguments& a) { return equals(v, arg(a)); };
    t["eq"] = t["=="] = t["equalto"];
    t["ne"] = t["!="] = [arg](const Value& v, const Arguments& a) { return !equals(v, arg(a)); };
    t["lt"] = t["<"] = t["lessthan"] = [arg](const Value& v, const Arguments& a) {
      return compare(v, arg(a)) < 0;
    };
    t["le"] =
        t["<="] = [arg](const Value& v, const Arguments& a) { return compare(v, arg(a)) <= 0; };
    t["gt"] = t[">"] = t["greaterthan"] = [arg](const Value& v, const Arguments& a) {
      return compare(v, arg(a)) > 0;
    };
    t["ge"] =
        t[">="] = [arg](const Value& v, const Arguments& a) { return compare(v, arg(a)) >= 0; };
    t["sameas"] = [arg](const Value& v, const Arguments& a) {
      const Value other = arg(a);  // identity: None, True and False are singletons
      return v.type() == other.type() && (v.is_null() || (v.is_boolean() && v == other));
    };
    t["in"] = [arg](const Value& v, const Arguments& a) { return contains(arg(a), v); };
    t["odd"] = [](const Value& v, const Arguments&) { return to_int(v, "odd") % 2 != 0; };
    t["even"] = [](const Value& v, const Arguments&) { return to_int(v, "even") % 2 == 0; };
    t["divisibleby"] = [arg](const Value& v, const Arguments& a) {
      const int64_t d = to_int(arg(a), "divisibleby");
      if (d == 0) throw EvalError("divisibleby 0");
      return to_int(v, "divisibleby") % d == 0;
    };
    t["lower"] = [](const Value& v, const Arguments&) {
      const std::string s = to_str(v);
      return s == ascii_map(s, [](int c) { return std::tolower(c); });
    };
    t["upper"] = [](const Value& v, const Arguments&) {
      const std::string s = to_str(v);
      return s == ascii_map(s, [](int c) { return std::toupper(c); });
    };
    return t;
  }();
  return table;
}

std::string str_arg(const Arguments& a, const std::string& name, size_t index, const char* method) {
  const Value v = a.get(name, index, undefined());
  if (!v.is_string()) throw EvalError(std::string(method) + "() needs a string argument");
  return v.get<std::string>();
}

// startswith / endswith accept a string or a tuple (list) of strings.
bool affix(const std::string& s, const Value& what, bool prefix) {
  if (what.is_array()) {
    for (const auto& w : what)
      if (affix(s, w, prefix)) return true;
    return false;
  }
  if (!what.is_string()) throw EvalError("startswith() / endswith() need a string");
  const auto& w = what.get_ref<const std::string&>();
  if (w.size() > s.size()) return false;
  return prefix ? s.compare(0, w.size(), w) == 0 : s.compare(s.size() - w.size(), w.size(), w) == 0;
}

Value string_method(const std::string& s, const std::string& name, const Arguments& a) {
  if (name == "upper") return ascii_map(s, [](int c) { return std::toupper(c); });
  if (name == "lower") return ascii_map(s, [](int c) { return std::tolower(c); });
  if (name == "strip") return strip(s, a.get("chars", 0, nullptr), true, true);
  if (name == "lstrip") return strip(s, a.get("chars", 0, nullptr), true, false);
  if (name == "rstrip") return strip(s, a.get("chars", 0, nullptr), false, true);
  if (name == "title") return python_title(s);
  if (name == "capitalize") return capitalize(s);
  if (name == "startswith") return affix(s, a.get("prefix", 0, undefined()), true);
  if (name == "endswith") return affix(s, a.get("suffix", 0, undefined()), false);
  if (name == "split") {
    const Value maxsplit = a.get("maxsplit", 1, -1);
    return split(s, a.get("sep", 0, nullptr), to_int(maxsplit, "maxsplit"));
  }
  if (name == "replace") {
    const Value count = a.get("count", 2, -1);
    return replace(s, str_arg(a, "old", 0, "replace"), str_arg(a, "new", 1, "replace"),
                   to_int(count, "count"));
  }
  if (name == "find") {
    const size_t at = s.find(str_arg(a, "sub", 0, "find"));
    return at == std::string::npos ? int64_t{-1}
                                   : static_cast<int64_t>(code_points(s.substr(0, at)).size());
  }
  if (name == "count") {
    const std::string sub = str_arg(a, "sub", 0, "count");
    if (sub.empty()) return static_cast<int64_t>(code_points(s).size() + 1);
    int64_t n = 0;
    for (size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size())) ++n;
    return n;
  }
  if (name == "join") {
    std::string out;
    bool first = true;
    for (const Value& item : iterate(a.get("iterable", 0, Value::array()))) {
      if (!item.is_string()) throw EvalError("join(): the items must be strings");
      out += (first ? "" : s) + item.get<std::string>();
      first = false;
      if (out.size() > kMaxOutputBytes) throw EvalError("join(): the result is too large");
    }
    return out;
  }
  if (name == "isdigit" || name == "isalpha" || name == "isspace") {
    if (s.empty()) return false;
    for (char c : s) {
      const auto u = static_cast<unsigned char>(c);
      if ((name == "isdigit" && !std::isdigit(u)) || (name == "isalpha" && !std::isalpha(u)) ||
          (name == "isspace" && !is_space(c)))
        return false;
    }
    return true;
  }
  throw EvalError("strings have no method '" + name + "' here");
}

Value dict_method(const Value& d, const std::string& name, const Arguments& a) {
  if (name == "items") {
    Value out = Value::array();
    for (const auto& [key, value] : d.items()) out.push_back(Value::array({key, value}));
    return out;
  }
  if (name == "keys") {
    Value out = Value::array();
    for (const auto& [key, value] : d.items()) out.push_back(key);
    return out;
  }
  if (name == "values") {
    Value out = Value::array();
    for (const auto& [key, value] : d.items()) out.push_back(value);
    return out;
  }
  if (name == "get") {
    const Value key = a.get("key", 0, undefined());
    const Value* v = lookup_ref(d, key);
    return v ? *v : a.get("default", 1, nullptr);
  }
  throw EvalError("dicts have no method '" + name + "' here");
}

}  // namespace

Value Arguments::get(const std::string& name, size_t index, const Value& fallback) const {
  for (const auto& [key, value] : named)
    if (key == name) return value;
  return index < positional.size() ? positional[index] : fallback;
}

Value apply_filter(const std::string& name, const Value& subject, const Arguments& args) {
  const auto& table = filters();
  const auto it = table.find(name);
  if (it == table.end()) throw EvalError("unknown filter '" + name + "'");
  Value result = it->second(subject, args);
  check_size(result);
  return result;
}

bool apply_test(const std::string& name, const Value& subject, const Arguments& args) {
  const auto& table = tests();
  const auto it = table.find(name);
  if (it == table.end()) throw EvalError("unknown test '" + name + "'");
  return it->second(subject, args);
}

Value call_method(const Value& object, const std::string& name, const Arguments& args) {
  if (object.is_string()) return string_method(object.get_ref<const std::string&>(), name, args);
  if (object.is_object()) return dict_method(object, name, args);
  if (is_undefined(object)) throw EvalError("'" + name + "()' called on an undefined value");
  throw EvalError("'" + type_name(object) + "' has no method '" + name + "' here");
}

bool call_function(const std::string& name, const Arguments& args, Value& result) {
  if (name == "range") {
    const auto& p = args.positional;
    if (p.empty() || p.size() > 3) throw EvalError("range() takes 1 to 3 arguments");
    const int64_t start = p.size() > 1 ? to_int(p[0], "range") : 0;
    const int64_t stop = to_int(p.size() > 1 ? p[1] : p[0], "range");
    const int64_t step = p.size() > 2 ? to_int(p[2], "range") : 1;
    if (step == 0) throw EvalError("range() step must not be zero");
    // Count first, in floating point, so that a huge range fails before any memory is used.
    const double count =
        std::max(0.0, std::ceil((static_cast<double>(stop) - static_cast<double>(start)) /
                                static_cast<double>(step)));
    if (count > static_cast<double>(kMaxListItems))
      throw EvalError("range() of more than " + std::to_string(kMaxListItems) + " numbers");
    result = Value::array();
    for (int64_t i = 0; i < static_cast<int64_t>(count); ++i) result.push_back(start + i * step);
    return true;
  }
  if (name == "namespace" || name == "dict") {
    result = Value::object();
    for (const Value& p : args.positional) {  // namespace({...}) / dict({...}) copy a mapping
      if (!p.is_object()) throw EvalError(name + "() takes a mapping or keyword arguments");
      for (const auto& [key, value] : p.items()) result[key] = value;
    }
    for (const auto& [key, value] : args.named) result[key] = value;
    return true;
  }
  if (name == "strftime_now") {  // HF's global: the local date and time, e.g. "%d %b %Y"
    const Value format = args.get("format", 0, undefined());
    if (!format.is_string()) throw EvalError("strftime_now() needs a format string");
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char buf[256];
    const size_t n = std::strftime(buf, sizeof buf, format.get<std::string>().c_str(), &local);
    result = std::string(buf, n);
    return true;
  }
  return false;
}

}  // namespace atman::jinja

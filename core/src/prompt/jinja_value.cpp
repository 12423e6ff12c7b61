// Python's value semantics for the Jinja interpreter: what `{{ x }}` prints (str()), repr() inside
// lists and dicts, truthiness, ==, ordering, `in`, and json.dumps as HF's `tojson` calls it.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "prompt/jinja.h"

namespace atman::jinja {
namespace {

bool is_numeric(const Value& v) {
  return v.is_number() || v.is_boolean();
}
bool is_integral(const Value& v) {
  return v.is_number_integer() || v.is_boolean();
}
int64_t as_int(const Value& v) {
  return v.is_boolean() ? (v.get<bool>() ? 1 : 0) : v.get<int64_t>();
}
double as_double(const Value& v) {
  return v.is_boolean() ? (v.get<bool>() ? 1.0 : 0.0) : v.get<double>();
}

// float.__repr__: the shortest digits that round-trip, fixed notation for exponents -4..15,
// scientific (two-digit exponent at least) otherwise, and always a '.0' on whole numbers.
std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  const std::string sci(buf, res.ptr);
  const size_t e = sci.find('e');
  std::string mantissa = sci.substr(0, e);
  const int exponent = std::stoi(sci.substr(e + 1));
  std::string sign;
  if (mantissa[0] == '-') {
    sign = "-";
    mantissa.erase(0, 1);
  }
  std::string digits;
  for (char c : mantissa)
    if (c != '.') digits += c;
  if (exponent >= -4 && exponent < 16) {
    std::string out;
    if (exponent >= 0) {
      if (digits.size() < static_cast<size_t>(exponent) + 1)
        digits.append(exponent + 1 - digits.size(), '0');
      out = digits.substr(0, exponent + 1) + ".";
      const std::string frac = digits.substr(exponent + 1);
      out += frac.empty() ? "0" : frac;
    } else {
      out = "0." + std::string(-exponent - 1, '0') + digits;
    }
    return sign + out;
  }
  std::string out = digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  char exp[16];
  std::snprintf(exp, sizeof exp, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  return sign + out + exp;
}

std::string string_repr(const std::string& s) {
  const char quote =
      s.find('\'') != std::string::npos && s.find('"') == std::string::npos ? '"' : '\'';
  std::string out(1, quote);
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = s[i];
    if (c == static_cast<unsigned char>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0xA0) {
      // U+0080..U+00A0 are not printable: Python writes them as \x escapes.
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned char>(s[++i]));
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + quote;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char ch : s) {
    const unsigned char c = ch;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          char hex[8];
          std::snprintf(hex, sizeof hex, "\\u%04x", c);
          out += hex;
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

void dump_json(const Value& v, int indent, bool sort_keys, int level, std::string& out) {
  if (is_undefined(v)) throw EvalError("tojson: the value is undefined");
  const std::string newline =
      indent >= 0 ? "\n" + std::string(static_cast<size_t>(indent) * (level + 1), ' ') : "";
  const std::string close =
      indent >= 0 ? "\n" + std::string(static_cast<size_t>(indent) * level, ' ') : "";
  const std::string separator = indent >= 0 ? "," : ", ";
  if (v.is_array()) {
    if (v.empty()) {
      out += "[]";
      return;
    }
    out += "[";
    for (size_t i = 0; i < v.size(); ++i) {
      out += (i ? separator : "") + newline;
      dump_json(v[i], indent, sort_keys, level + 1, out);
    }
    out += close + "]";
  } else if (v.is_object()) {
    if (v.empty()) {
      out += "{}";
      return;
    }
    std::vector<std::string> keys;
    for (const auto& [key, value] : v.items()) keys.push_back(key);
    if (sort_keys) std::sort(keys.begin(), keys.end());
    out += "{";
    for (size_t i = 0; i < keys.size(); ++i) {
      out += (i ? separator : "") + newline + json_string(keys[i]) + ": ";
      dump_json(v.at(keys[i]), indent, sort_keys, level + 1, out);
    }
    out += close + "}";
  } else if (v.is_string()) {
    out += json_string(v.get<std::string>());
  } else if (v.is_number_float()) {
    const double d = v.get<double>();
    out += std::isnan(d)   ? "NaN"
           : std::isinf(d) ? (d > 0 ? "Infinity" : "-Infinity")
                           : float_repr(d);
  } else if (v.is_boolean()) {
    out += v.get<bool>() ? "true" : "false";
  } else if (v.is_null()) {
    out += "null";
  } else {
    out += std::to_string(as_int(v));
  }
}

}  // namespace

Value undefined() {
  return Value(Value::value_t::discarded);
}
bool is_undefined(const Value& v) {
  return v.is_discarded();
}

bool truthy(const Value& v) {
  if (v.is_discarded() || v.is_null()) return false;
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number_integer()) return as_int(v) != 0;
  if (v.is_number_float()) return v.get<double>() != 0.0;
  if (v.is_string()) return !v.get_ref<const std::string&>().empty();
  return !v.empty();  // list, dict
}

std::string type_name(const Value& v) {
  if (v.is_discarded()) return "Undefined";
  if (v.is_null()) return "NoneType";
  if (v.is_boolean()) return "bool";
  if (v.is_number_integer()) return "int";
  if (v.is_number_float()) return "float";
  if (v.is_string()) return "str";
  if (v.is_array()) return "list";
  return "dict";
}

std::string to_str(const Value& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_discarded()) return "";
  return repr(v);
}

std::string repr(const Value& v) {
  if (v.is_discarded()) return "Undefined";
  if (v.is_null()) return "None";
  if (v.is_boolean()) return v.get<bool>() ? "True" : "False";
  if (v.is_number_integer()) return std::to_string(as_int(v));
  if (v.is_number_float()) return float_repr(v.get<double>());
  if (v.is_string()) return string_repr(v.get<std::string>());
  std::string out = v.is_array() ? "[" : "{";
  bool first = true;
  if (v.is_array()) {
    for (const auto& item : v) {
      out += (first ? "" : ", ") + repr(item);
      first = false;
    }
    return out + "]";
  }
  for (const auto& [key, value] : v.items()) {
    out += (first ? "" : ", ") + string_repr(key) + ": " + repr(value);
    first = false;
  }
  return out + "}";
}

std::string to_json_text(const Value& v, int indent, bool sort_keys) {
  std::string out;
  dump_json(v, indent, sort_keys, 0, out);
  return out;
}

bool equals(const Value& a, const Value& b) {
  if (is_numeric(a) && is_numeric(b)) {
    if (is_integral(a) && is_integral(b)) return as_int(a) == as_int(b);
    return as_double(a) == as_double(b);
  }
  if (a.type() != b.type()) return false;
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (!equals(a[i], b[i])) return false;
    return true;
  }
  if (a.is_object()) {  // Python dicts compare regardless of order
    if (a.size() != b.size()) return false;
    for (const auto& [key, value] : a.items()) {
      const auto it = b.find(key);
      if (it == b.end() || !equals(value, *it)) return false;
    }
    return true;
  }
  if (a.is_discarded()) return true;  // Undefined == Undefined, as in jinja2
  return a == b;
}

int compare(const Value& a, const Value& b) {
  if (is_numeric(a) && is_numeric(b)) {
    if (is_integral(a) && is_integral(b)) return as_int(a) < as_int(b) ? -1 : as_int(a) > as_int(b);
    const double x = as_double(a), y = as_double(b);
    return x < y ? -1 : x > y;
  }
  if (a.is_string() && b.is_string()) {
    const int c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
    return c < 0 ? -1 : c > 0;
  }
  if (a.is_array() && b.is_array()) {
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
      if (const int c = compare(a[i], b[i]); c != 0) return c;
    return a.size() < b.size() ? -1 : a.size() > b.size();
  }
  throw EvalError("cannot order '" + type_name(a) + "' and '" + type_name(b) + "'");
}

bool contains(const Value& container, const Value& item) {
  if (container.is_string()) {
    if (!item.is_string())
      throw EvalError("'in <string>' needs a string on the left, not '" + type_name(item) + "'");
    return container.get_ref<const std::string&>().find(item.get_ref<const std::string&>()) !=
           std::string::npos;
  }
  if (container.is_array()) {
    for (const auto& x : container)
      if (equals(x, item)) return true;
    return false;
  }
  if (container.is_object()) return item.is_string() && container.contains(item.get<std::string>());
  if (container.is_discarded()) return false;
  throw EvalError("'in' needs a string, list or dict on the right, not '" + type_name(container) +
                  "'");
}

std::vector<std::string> code_points(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    size_t n = 1;
    const unsigned char c = s[i];
    if (c >= 0xF0)
      n = 4;
    else if (c >= 0xE0)
      n = 3;
    else if (c >= 0xC0)
      n = 2;
    n = std::min(n, s.size() - i);
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

}  // namespace atman::jinja

namespace atman::jinja {

const Value* lookup_ref(const Value& object, const Value& key) {
  if (object.is_object() && key.is_string()) {
    const auto it = object.find(key.get_ref<const std::string&>());
    return it == object.end() ? nullptr : &*it;
  }
  if (object.is_array() && (key.is_number_integer() || key.is_boolean())) {
    int64_t i = key.is_boolean() ? key.get<bool>() : key.get<int64_t>();
    const auto n = static_cast<int64_t>(object.size());
    if (i < 0) i += n;
    return i >= 0 && i < n ? &object[static_cast<size_t>(i)] : nullptr;
  }
  return nullptr;
}

Value lookup(const Value& object, const Value& key) {
  if (const Value* v = lookup_ref(object, key)) return *v;
  if (object.is_string() && key.is_number_integer()) {
    const auto chars = code_points(object.get_ref<const std::string&>());
    int64_t i = key.get<int64_t>();
    const auto n = static_cast<int64_t>(chars.size());
    if (i < 0) i += n;
    if (i >= 0 && i < n) return chars[static_cast<size_t>(i)];
  }
  return undefined();
}

std::vector<Value> iterate(const Value& v) {
  std::vector<Value> items;
  if (v.is_array()) {
    items.assign(v.begin(), v.end());
  } else if (v.is_object()) {
    for (const auto& [key, value] : v.items()) items.emplace_back(key);
  } else if (v.is_string()) {
    for (auto& c : code_points(v.get_ref<const std::string&>())) items.emplace_back(std::move(c));
  } else if (!v.is_discarded()) {
    throw EvalError("'" + type_name(v) + "' is not iterable");
  }
  return items;
}

void check_size(const Value& v) {
  if (v.is_string() && v.get_ref<const std::string&>().size() > kMaxOutputBytes)
    throw EvalError("a string grew past " + std::to_string(kMaxOutputBytes >> 20) + " MiB");
  if ((v.is_array() || v.is_object()) && v.size() > kMaxListItems)
    throw EvalError("a list grew past " + std::to_string(kMaxListItems) + " items");
}

}  // namespace atman::jinja

// Jinja evaluator: renders a parsed template. Scoping follows jinja2: a for loop's body gets a
// fresh scope per iteration (a `set` inside does not outlive the iteration, which is why templates
// use namespace() to carry state out), `if` opens none, a macro sees its arguments and the
// template's top-level names. Every step is charged against the limits of jinja.h so that a hostile
// template fails with a message instead of hanging or exhausting memory.
#include <algorithm>
#include <cmath>
#include <deque>
#include <unordered_map>

#include "atman/error.h"
#include "prompt/jinja.h"

namespace atman::jinja {
namespace {

// raise_exception(message): the template refuses its input.
class Raised : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Whether evaluating `e` may call a macro, whose `set ns.x = ...` could move the values that a
// pointer from Evaluator::ref points at.
bool has_call(const Expr* e) {
  if (!e) return false;
  if (e->kind == Expr::Kind::Call) return true;
  for (const auto& a : e->args)
    if (has_call(a.get())) return true;
  for (const auto& [key, value] : e->kwargs)
    if (has_call(value.get())) return true;
  return false;
}
bool has_call(const Expr& e, size_t from) {
  for (size_t i = from; i < e.args.size(); ++i)
    if (has_call(e.args[i].get())) return true;
  for (const auto& [key, value] : e.kwargs)
    if (has_call(value.get())) return true;
  return false;
}

bool is_int(const Value& v) {
  return v.is_number_integer() || v.is_boolean();
}
int64_t as_int(const Value& v) {
  return v.is_boolean() ? v.get<bool>() : v.get<int64_t>();
}
double as_double(const Value& v) {
  return v.is_boolean() ? v.get<bool>() : v.get<double>();
}
bool is_num(const Value& v) {
  return v.is_number() || v.is_boolean();
}

[[noreturn]] void unsupported(const std::string& op, const Value& a, const Value& b) {
  if (is_undefined(a) || is_undefined(b))
    throw EvalError("an undefined value used with '" + op + "' (a missing variable or key?)");
  throw EvalError("'" + op + "' is not supported between '" + type_name(a) + "' and '" +
                  type_name(b) + "'");
}

// Python ints do not overflow; these do, and say so.
int64_t checked_op(bool (*op)(int64_t, int64_t, int64_t*), int64_t x, int64_t y) {
  int64_t r = 0;
  if (op(x, y, &r)) throw EvalError("integer overflow");
  return r;
}
bool add(int64_t x, int64_t y, int64_t* r) {
  return __builtin_add_overflow(x, y, r);
}
bool sub(int64_t x, int64_t y, int64_t* r) {
  return __builtin_sub_overflow(x, y, r);
}
bool mul(int64_t x, int64_t y, int64_t* r) {
  return __builtin_mul_overflow(x, y, r);
}

Value arithmetic(const std::string& op, const Value& a, const Value& b) {
  if (op == "~") return to_str(a) + to_str(b);
  if (op == "+") {
    if (a.is_string() && b.is_string()) return a.get<std::string>() + b.get<std::string>();
    if (a.is_array() && b.is_array()) {
      if (a.size() + b.size() > kMaxListItems) throw EvalError("a list grew past the item limit");
      Value out = a;
      out.insert(out.end(), b.begin(), b.end());
      return out;
    }
  }
  if (op == "*" && (a.is_string() || a.is_array() || b.is_string() || b.is_array())) {
    const Value& seq = a.is_string() || a.is_array() ? a : b;
    const Value& times = &seq == &a ? b : a;
    if (!is_int(times)) unsupported(op, a, b);
    const int64_t n = std::max<int64_t>(0, as_int(times));
    const size_t unit = seq.is_string() ? seq.get_ref<const std::string&>().size() : seq.size();
    const size_t limit = seq.is_string() ? kMaxOutputBytes : kMaxListItems;
    if (unit > 0 && static_cast<uint64_t>(n) > limit / unit)
      throw EvalError("a repeated string or list is too large");
    Value out = seq.is_string() ? Value("") : Value::array();
    for (int64_t i = 0; i < n; ++i) {
      if (seq.is_string())
        out.get_ref<std::string&>() += seq.get_ref<const std::string&>();
      else
        out.insert(out.end(), seq.begin(), seq.end());
    }
    return out;
  }
  if (!is_num(a) || !is_num(b)) {
    if (op == "%" && a.is_string())
      throw EvalError("'%' string formatting is not supported; use ~ or +");
    unsupported(op, a, b);
  }
  if (op == "/") {
    if (as_double(b) == 0) throw EvalError("division by zero");
    return as_double(a) / as_double(b);
  }
  if (is_int(a) && is_int(b)) {
    const int64_t x = as_int(a), y = as_int(b);
    if (op == "+") return checked_op(add, x, y);
    if (op == "-") return checked_op(sub, x, y);
    if (op == "*") return checked_op(mul, x, y);
    if (op == "//" || op == "%") {  // Python: floor division, the remainder takes y's sign
      if (y == 0) throw EvalError("division by zero");
      if (x == INT64_MIN && y == -1) throw EvalError("integer overflow");
      int64_t q = x / y, m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) --q, m += y;
      return op == "//" ? q : m;
    }
    if (op == "**") {
      if (y < 0) return std::pow(static_cast<double>(x), static_cast<double>(y));
      if (x == 0 || x == 1) return y == 0 ? 1 : x;
      if (x == -1) return y % 2 ? -1 : 1;
      int64_t p = 1;  // |x| >= 2: overflows within 63 steps
      for (int64_t i = 0; i < y; ++i) p = checked_op(mul, p, x);
      return p;
    }
  } else {
    const double x = as_double(a), y = as_double(b);
    if (op == "+") return x + y;
    if (op == "-") return x - y;
    if (op == "*") return x * y;
    if (op == "**") return std::pow(x, y);
    if (op == "//" || op == "%") {
      if (y == 0) throw EvalError("division by zero");
      const double m = std::fmod(x, y);
      const double mod = (m != 0 && ((m < 0) != (y < 0))) ? m + y : m;
      return op == "%" ? mod : std::floor(x / y);
    }
  }
  unsupported(op, a, b);
}

// Python slicing of a list or string.
Value slice(const Value& object, const Value& start, const Value& stop, const Value& step) {
  const bool text = object.is_string();
  if (!text && !object.is_array()) {
    if (is_undefined(object)) return undefined();
    throw EvalError("'" + type_name(object) + "' cannot be sliced");
  }
  std::vector<Value> items = iterate(object);
  const auto n = static_cast<int64_t>(items.size());
  auto index = [](const Value& v, const char* what) {
    if (!is_int(v)) throw EvalError(std::string("a slice ") + what + " must be an integer");
    return as_int(v);
  };
  const int64_t s = step.is_null() ? 1 : index(step, "step");
  if (s == 0) throw EvalError("a slice step must not be zero");
  auto clamp = [&](const Value& v, int64_t fallback) {
    if (v.is_null()) return fallback;
    int64_t i = index(v, "bound");
    if (i < 0) i += n;
    return s > 0 ? std::clamp<int64_t>(i, 0, n) : std::clamp<int64_t>(i, -1, n - 1);
  };
  const int64_t b = clamp(start, s > 0 ? 0 : n - 1), e = clamp(stop, s > 0 ? n : -1);
  Value out = text ? Value("") : Value::array();
  for (int64_t i = b; s > 0 ? i < e : i > e; i += s) {
    if (text)
      out.get_ref<std::string&>() += items[static_cast<size_t>(i)].get<std::string>();
    else
      out.push_back(items[static_cast<size_t>(i)]);
  }
  return out;
}

class Evaluator {
 public:
  Evaluator(const Template& t, const Value& variables) : template_(t) {
    scopes_.emplace_back();
    if (variables.is_object())
      for (const auto& [key, value] : variables.items()) scopes_[0][key] = value;
  }

  std::string run() {
    try {
      render(template_.body);
    } catch (const Raised& e) {
      throw InputError(template_.source_name + ": " + e.what());
    } catch (const EvalError& e) {
      fail(e.what());
    } catch (const nlohmann::json::exception& e) {  // a value of an unexpected type
      fail(e.what());
    }
    return std::move(out_);
  }

 private:
  using Scope = std::unordered_map<std::string, Value>;

  [[noreturn]] void fail(const std::string& what) const {
    throw InputError(template_.source_name + ", line " + std::to_string(line_) + ": " + what);
  }

  void charge(const Value& v) {
    long cost = 1;
    if (v.is_string())
      cost += static_cast<long>(v.get_ref<const std::string&>().size() / 64);
    else if (v.is_array() || v.is_object())
      cost += static_cast<long>(v.size());
    if ((work_ += cost) > kMaxWork)
      throw EvalError("the template takes too many steps (more than " + std::to_string(kMaxWork) +
                      "); is it looping over something huge?");
  }

  void emit(const std::string& text) {
    out_ += text;
    if (out_.size() > kMaxOutputBytes)
      throw EvalError("the rendered text exceeds " + std::to_string(kMaxOutputBytes >> 20) +
                      " MiB");
    work_ += static_cast<long>(text.size() / 64);
  }

  // ---- variables ----

  // The innermost scope defining `name` in the current macro frame, then the top level.
  Value* find(const std::string& name) {
    for (size_t i = scopes_.size(); i-- > frame_base_;) {
      const auto it = scopes_[i].find(name);
      if (it != scopes_[i].end()) return &it->second;
    }
    const auto it = scopes_[0].find(name);
    return it == scopes_[0].end() ? nullptr : &it->second;
  }

  // A pushed scope that is popped again on every way out.
  struct ScopeGuard {
    std::deque<Scope>& scopes;
    explicit ScopeGuard(std::deque<Scope>& s) : scopes(s) { scopes.emplace_back(); }
    ~ScopeGuard() { scopes.pop_back(); }
    ScopeGuard(const ScopeGuard&) = delete;
    ScopeGuard& operator=(const ScopeGuard&) = delete;
  };

  // ---- statements ----

  void render(const Body& body) {
    for (const Node& n : body) {
      render_node(n);
      if (flow_ != Flow::Normal) return;
    }
  }

  void render_node(const Node& n) {
    line_ = n.line;
    switch (n.kind) {
      case Node::Kind::Text:
        emit(n.text);
        break;
      case Node::Kind::Output:
        emit(to_str(eval(*n.exprs[0])));
        break;
      case Node::Kind::If:
        for (size_t i = 0; i < n.exprs.size(); ++i) {
          if (truthy(eval(*n.exprs[i]))) {
            render(n.bodies[i]);
            return;
          }
          line_ = n.line;
        }
        if (n.bodies.size() > n.exprs.size()) render(n.bodies.back());
        break;
      case Node::Kind::For:
        render_for(n);
        break;
      case Node::Kind::Set: {
        Value value = eval(*n.exprs[0]);
        if (n.attr.empty()) {
          scopes_.back()[n.text] = std::move(value);
        } else {
          Value* target = find(n.text);
          if (!target || !target->is_object())
            throw EvalError("cannot set '" + n.text + "." + n.attr + "': '" + n.text +
                            "' is not a namespace()");
          (*target)[n.attr] = std::move(value);
        }
        break;
      }
      case Node::Kind::SetBlock: {
        std::string saved = std::move(out_);
        out_.clear();
        render(n.bodies[0]);
        scopes_.back()[n.text] = std::move(out_);
        out_ = std::move(saved);
        break;
      }
      case Node::Kind::Macro:
        macros_[n.text] = &n;
        break;
      case Node::Kind::Break:
      case Node::Kind::Continue:
        if (loop_depth_ == 0)
          throw EvalError("'" + std::string(n.kind == Node::Kind::Break ? "break" : "continue") +
                          "' outside a for loop");
        flow_ = n.kind == Node::Kind::Break ? Flow::Break : Flow::Continue;
        break;
      case Node::Kind::Block: {  // jinja2 renders it as a call block: a `set` inside stays inside
        ScopeGuard scope(scopes_);
        render(n.bodies[0]);
        break;
      }
    }
  }

  void bind(Scope& scope, const std::vector<std::string>& targets, const Value& item) {
    if (targets.size() == 1) {
      scope[targets[0]] = item;
      return;
    }
    if (!item.is_array() || item.size() != targets.size())
      throw EvalError("cannot unpack " + repr(item) + " into " + std::to_string(targets.size()) +
                      " names");
    for (size_t i = 0; i < targets.size(); ++i) scope[targets[i]] = item[i];
  }

  void count_iteration() {
    if (++iterations_ > kMaxLoopIterations)
      throw EvalError("more than " + std::to_string(kMaxLoopIterations) + " loop iterations");
  }

  void render_for(const Node& n) {
    std::vector<Value> items = iterate(eval(*n.exprs[0]));
    if (const Expr* condition = n.exprs[1].get()) {  // `for x in xs if cond`: filter first
      std::vector<Value> kept;
      for (Value& item : items) {
        count_iteration();
        ScopeGuard scope(scopes_);
        bind(scopes_.back(), n.targets, item);
        if (truthy(eval(*condition))) kept.push_back(std::move(item));
      }
      items = std::move(kept);
    }
    if (items.empty()) {
      render(n.bodies[1]);
      return;
    }
    ++loop_depth_;
    const auto length = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < length; ++i) {
      count_iteration();
      ScopeGuard scope(scopes_);
      bind(scopes_.back(), n.targets, items[static_cast<size_t>(i)]);
      Value loop = {{"index", i + 1},
                    {"index0", i},
                    {"revindex", length - i},
                    {"revindex0", length - i - 1},
                    {"first", i == 0},
                    {"last", i == length - 1},
                    {"length", length},
                    {"depth", 1},
                    {"depth0", 0}};
      loop["previtem"] = i > 0 ? items[static_cast<size_t>(i - 1)] : undefined();
      loop["nextitem"] = i + 1 < length ? items[static_cast<size_t>(i + 1)] : undefined();
      scopes_.back()["loop"] = std::move(loop);
      render(n.bodies[0]);
      if (flow_ == Flow::Break) {
        flow_ = Flow::Normal;
        break;
      }
      flow_ = Flow::Normal;
    }
    --loop_depth_;
  }

  Value call_macro(const Node& m, const Arguments& args) {
    if (call_depth_ >= kMaxCallDepth)
      throw EvalError("macro '" + m.text + "' called more than " + std::to_string(kMaxCallDepth) +
                      " levels deep");
    if (args.positional.size() > m.targets.size())
      throw EvalError("macro '" + m.text + "' takes " + std::to_string(m.targets.size()) +
                      " arguments");
    Scope params;
    for (size_t i = 0; i < args.positional.size(); ++i) params[m.targets[i]] = args.positional[i];
    for (const auto& [key, value] : args.named) {
      if (std::find(m.targets.begin(), m.targets.end(), key) == m.targets.end())
        throw EvalError("macro '" + m.text + "' has no argument '" + key + "'");
      params[key] = value;
    }
    // The frame: the macro's own scope and the top level, not the caller's loop variables.
    const size_t saved_base = frame_base_;
    const int saved_loops = loop_depth_;
    const int saved_line = line_;
    std::string saved_out = std::move(out_);
    out_.clear();
    ScopeGuard scope(scopes_);
    scopes_.back() = std::move(params);
    frame_base_ = scopes_.size() - 1;
    loop_depth_ = 0;
    ++call_depth_;
    for (size_t i = 0; i < m.targets.size(); ++i) {
      if (scopes_.back().count(m.targets[i])) continue;
      scopes_.back()[m.targets[i]] = m.exprs[i] ? eval(*m.exprs[i]) : undefined();
    }
    render(m.bodies[0]);
    --call_depth_;
    frame_base_ = saved_base;
    loop_depth_ = saved_loops;
    line_ = saved_line;
    std::string result = std::move(out_);
    out_ = std::move(saved_out);
    return result;
  }

  // ---- expressions ----

  Arguments arguments(const Expr& e, size_t first) {
    Arguments a;
    for (size_t i = first; i < e.args.size(); ++i) a.positional.push_back(eval(*e.args[i]));
    for (const auto& [key, value] : e.kwargs) a.named.emplace_back(key, eval(*value));
    return a;
  }

  // The value of a name, attribute or item chain without copying the containers along the way;
  // other expressions are evaluated into `holder`. With `copy` (more evaluation follows that may
  // call a macro) the value is always copied into `holder`.
  const Value* ref(const Expr& e, Value& holder, bool copy = false) {
    if (copy) {
      holder = eval(e);
      return &holder;
    }
    if (e.kind == Expr::Kind::Name) {
      if (const Value* v = find(e.name)) return v;
      holder = eval(e);  // undefined, or a global function
      return &holder;
    }
    if (e.kind == Expr::Kind::Attribute || e.kind == Expr::Kind::Index) {
      Value object_holder;
      const Value* object = ref(*e.args[0], object_holder, has_call(e, 1));
      const Value key = e.kind == Expr::Kind::Attribute ? Value(e.name) : eval(*e.args[1]);
      if (object != &object_holder)  // points into a variable: safe to keep
        if (const Value* v = lookup_ref(*object, key)) return v;
      holder = lookup(*object, key);
      return &holder;
    }
    holder = eval(e);
    return &holder;
  }

  Value eval(const Expr& e) {
    line_ = e.line;
    Value v = eval_inner(e);
    charge(v);
    return v;
  }

  Value eval_inner(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::Literal:
        return e.value;
      case Expr::Kind::Name: {
        if (const Value* v = find(e.name)) return *v;
        // Templates test `strftime_now is defined` before calling it: the globals are defined.
        if (macros_.count(e.name) || e.name == "raise_exception" || e.name == "range" ||
            e.name == "namespace" || e.name == "dict" || e.name == "strftime_now")
          return "<function " + e.name + ">";
        return undefined();
      }
      case Expr::Kind::List: {
        Value out = Value::array();
        for (const auto& item : e.args) out.push_back(eval(*item));
        return out;
      }
      case Expr::Kind::Dict: {
        Value out = Value::object();
        for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
          const Value key = eval(*e.args[i]);
          if (!key.is_string())
            throw EvalError("dict keys must be strings here, not '" + type_name(key) + "'");
          out[key.get<std::string>()] = eval(*e.args[i + 1]);
        }
        return out;
      }
      case Expr::Kind::Unary: {
        const Value v = eval(*e.args[0]);
        if (e.name == "not") return !truthy(v);
        if (!is_num(v))
          throw EvalError("unary '" + e.name + "' needs a number, not '" + type_name(v) + "'");
        if (e.name == "+") return is_int(v) ? Value(as_int(v)) : v;
        if (is_int(v)) return checked_op(sub, 0, as_int(v));
        return -v.get<double>();
      }
      case Expr::Kind::Binary:
        return binary(e);
      case Expr::Kind::Conditional:
        if (truthy(eval(*e.args[1]))) return eval(*e.args[0]);
        return e.args[2] ? eval(*e.args[2]) : undefined();
      case Expr::Kind::Attribute:
      case Expr::Kind::Index: {
        Value holder;
        return *ref(e, holder);
      }
      case Expr::Kind::Slice: {
        Value holder;
        const Value* object = ref(*e.args[0], holder, has_call(e, 1));
        auto bound = [&](size_t i) { return e.args[i] ? eval(*e.args[i]) : Value(nullptr); };
        return slice(*object, bound(1), bound(2), bound(3));
      }
      case Expr::Kind::Call:
        return call(e);
      case Expr::Kind::Filter: {
        Value holder;
        const Value* subject = ref(*e.args[0], holder, has_call(e, 1));
        const Arguments a = arguments(e, 1);
        line_ = e.line;
        return apply_filter(e.name, *subject, a);
      }
      case Expr::Kind::Test: {
        Value holder;
        const Value* subject = ref(*e.args[0], holder, has_call(e, 1));
        const Arguments a = arguments(e, 1);
        line_ = e.line;
        return apply_test(e.name, *subject, a) != e.negated;
      }
    }
    throw EvalError("unknown expression");
  }

  Value binary(const Expr& e) {
    const std::string& op = e.name;
    if (op == "and" || op == "or") {  // Python: the deciding operand itself, short-circuited
      Value left = eval(*e.args[0]);
      if (truthy(left) == (op == "or")) return left;
      return eval(*e.args[1]);
    }
    Value left_holder, right_holder;
    const Value& a = *ref(*e.args[0], left_holder, has_call(e, 1));
    const Value& b = *ref(*e.args[1], right_holder);
    line_ = e.line;
    if (op == "==") return equals(a, b);
    if (op == "!=") return !equals(a, b);
    if (op == "<") return compare(a, b) < 0;
    if (op == ">") return compare(a, b) > 0;
    if (op == "<=") return compare(a, b) <= 0;
    if (op == ">=") return compare(a, b) >= 0;
    if (op == "in") return contains(b, a);
    if (op == "not in") return !contains(b, a);
    Value result = arithmetic(op, a, b);
    check_size(result);
    return result;
  }

  Value call(const Expr& e) {
    const Expr& callee = *e.args[0];
    if (callee.kind == Expr::Kind::Attribute) {  // a method: "text".strip(), d.items(), ...
      Value holder;
      const Value* object = ref(*callee.args[0], holder, has_call(e, 1));
      const Arguments a = arguments(e, 1);
      line_ = e.line;
      Value result = call_method(*object, callee.name, a);
      check_size(result);
      return result;
    }
    if (callee.kind != Expr::Kind::Name) throw EvalError("only names and methods can be called");
    const Arguments a = arguments(e, 1);
    line_ = e.line;
    if (callee.name == "raise_exception")
      throw Raised(a.positional.empty() ? std::string("the template raised an error")
                                        : to_str(a.positional[0]));
    if (const auto it = macros_.find(callee.name); it != macros_.end())
      return call_macro(*it->second, a);
    Value result;
    if (call_function(callee.name, a, result)) return result;
    throw EvalError("'" + callee.name + "' is not a function this interpreter knows");
  }

  enum class Flow { Normal, Break, Continue };

  const Template& template_;
  std::deque<Scope> scopes_;  // a deque: pushing a scope moves no variable
  size_t frame_base_ = 0;
  std::unordered_map<std::string, const Node*> macros_;
  std::string out_;
  Flow flow_ = Flow::Normal;
  int loop_depth_ = 0;
  int call_depth_ = 0;
  int line_ = 1;
  long iterations_ = 0;
  long work_ = 0;
};

}  // namespace

std::string render(const Template& tmpl, const Value& variables) {
  return Evaluator(tmpl, variables).run();
}

}  // namespace atman::jinja

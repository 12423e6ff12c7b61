#include "cli_args.h"

#include <algorithm>
#include <fstream>
#include <iostream>

#include "atman/error.h"

namespace atman::cli {

Args::Args(int argc, char** argv, int first, const std::vector<std::string>& options,
           const std::vector<std::string>& flags) {
  auto known = [](const std::vector<std::string>& list, const std::string& name) {
    return std::find(list.begin(), list.end(), name) != list.end();
  };
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2), value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    if (known(flags, name)) {
      values_[name].push_back("1");
    } else if (known(options, name)) {
      if (!inline_value) {
        if (i + 1 >= argc) throw InputError("option --" + name + " needs a value");
        value = argv[++i];
      }
      values_[name].push_back(value);
    } else {
      throw InputError("unknown option --" + name + " (see --help)");
    }
  }
}

bool Args::has(const std::string& name) const {
  return values_.count(name) > 0;
}

std::string Args::get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second.back();
}

std::string Args::required(const std::string& name) const {
  if (!has(name)) throw InputError("missing required option --" + name + " (see --help)");
  return get(name);
}

std::vector<std::string> Args::all(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

double Args::number(const std::string& name, double fallback) const {
  if (!has(name)) return fallback;
  try {
    size_t used = 0;
    double v = std::stod(get(name), &used);
    if (used != get(name).size()) throw std::invalid_argument("trailing text");
    return v;
  } catch (const std::exception&) {
    throw InputError("option --" + name + " expects a number, got '" + get(name) + "'");
  }
}

int Args::integer(const std::string& name, int fallback) const {
  double v = number(name, fallback);
  if (v != static_cast<int>(v))
    throw InputError("option --" + name + " expects a whole number, got '" + get(name) + "'");
  return static_cast<int>(v);
}

void emit_json(const Args& args, const std::string& json_text) {
  if (args.has("json")) {
    std::ofstream out(args.get("json"));
    if (!out) throw InputError("cannot write " + args.get("json"));
    out << json_text << "\n";
    if (!out) throw InputError("cannot write " + args.get("json"));
  } else {
    std::cout << json_text << "\n";
  }
}

}  // namespace atman::cli

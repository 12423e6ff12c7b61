// A small command-line parser for `atman SUBCOMMAND [--option value]... [--flag]...`.
// Options may repeat (--labels a --labels b); unknown options are errors with the usage line.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace atman::cli {

class Args {
 public:
  // `flags` take no value; every other --name takes exactly one.
  Args(int argc, char** argv, int first, const std::vector<std::string>& options,
       const std::vector<std::string>& flags);

  bool has(const std::string& name) const;
  std::string get(const std::string& name, const std::string& fallback = "") const;
  std::string required(const std::string& name) const;
  std::vector<std::string> all(const std::string& name) const;
  double number(const std::string& name, double fallback) const;
  int integer(const std::string& name, int fallback) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
};

// Writes JSON text to --json FILE when given, else to stdout.
void emit_json(const Args& args, const std::string& json_text);

}  // namespace atman::cli

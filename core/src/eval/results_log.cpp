// The results file of a resumable evaluation run (atman/eval_results.h).
#include <algorithm>
#include <set>
#include <sstream>

#include "atman/error.h"
#include "atman/eval_results.h"

namespace atman::eval {
namespace {

namespace fs = std::filesystem;
constexpr const char* kFormatKey = "atman_eval_results";

// The fields of two configurations that differ, for a message a user can act on.
std::string differing_fields(const nlohmann::json& a, const nlohmann::json& b) {
  if (!a.is_object() || !b.is_object()) return "the whole configuration";
  std::set<std::string> keys;
  for (const auto& [k, v] : a.items()) keys.insert(k);
  for (const auto& [k, v] : b.items()) keys.insert(k);
  std::string out;
  for (const auto& k : keys)
    if (!a.contains(k) || !b.contains(k) || a[k] != b[k]) out += (out.empty() ? "" : ", ") + k;
  return out;
}

struct FileContents {
  std::vector<ItemResult> results;
  // Bytes up to the end of the last complete line: what an appender keeps.
  std::streamoff complete = 0;
  bool has_header = false;
};

FileContents read_results(const fs::path& path, const nlohmann::json& config) {
  FileContents contents;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("cannot read the results file " + path.string());
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    // A line without its newline was being written when its process died: not finished.
    if (in.eof()) break;
    const std::streamoff end = in.tellg();
    if (number == 1) {
      nlohmann::json header = nlohmann::json::parse(line, nullptr, false);
      if (header.is_discarded() || !header.is_object() || !header.contains(kFormatKey))
        throw InputError(path.string() +
                         " is not an `atman eval` results file; give another --results file");
      if (header.value("config", nlohmann::json()) != config)
        throw InputError("the results file " + path.string() +
                         " belongs to another evaluation (it differs in: " +
                         differing_fields(header.value("config", nlohmann::json()), config) +
                         "); give another --results file, or delete it to start over");
      contents.has_header = true;
    } else if (!line.empty()) {
      try {
        contents.results.push_back(item_result_from_json(line));
      } catch (const InputError& e) {
        throw InputError(path.string() + " line " + std::to_string(number) + ": " + e.what());
      }
    }
    contents.complete = end;
  }
  return contents;
}

}  // namespace

fs::path results_part_path(const fs::path& base, int part) {
  if (part < 0) return base;
  fs::path out = base;
  out.replace_filename(base.stem().string() + ".rank" + std::to_string(part) +
                       base.extension().string());
  return out;
}

std::vector<fs::path> results_files(const fs::path& base) {
  std::vector<fs::path> files;
  std::error_code ec;
  if (fs::is_regular_file(base, ec)) files.push_back(base);
  const fs::path dir = base.has_parent_path() ? base.parent_path() : fs::path(".");
  // "<stem>.rank<digits><extension>"
  const std::string prefix = base.stem().string() + ".rank", suffix = base.extension().string();
  std::vector<fs::path> parts;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const std::string digits =
        name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
        it->is_regular_file(ec))
      parts.push_back(it->path());
  }
  std::sort(parts.begin(), parts.end());
  files.insert(files.end(), parts.begin(), parts.end());
  return files;
}

ResultsLog::ResultsLog(const fs::path& write, const std::vector<fs::path>& read,
                       const nlohmann::json& config)
    : path_(write) {
  std::set<std::pair<int, std::string>> seen;
  auto take = [&](std::vector<ItemResult> results) {
    for (auto& r : results)
      if (seen.insert({r.item, r.method}).second) finished_.push_back(std::move(r));
  };
  std::error_code ec;
  bool write_read = false;
  for (const auto& file : read) {
    if (!fs::is_regular_file(file, ec)) continue;
    if (fs::equivalent(file, write, ec)) write_read = true;
    take(read_results(file, config).results);
  }
  bool header = false;
  if (fs::is_regular_file(write, ec)) {
    FileContents own = read_results(write, config);
    if (!write_read) take(std::move(own.results));
    // Drop a cut-off last line (or a cut-off header) so that appending starts a fresh line.
    fs::resize_file(write, static_cast<uintmax_t>(own.complete));
    header = own.has_header;
  }
  out_.open(write, std::ios::binary | std::ios::app);
  if (!out_) throw InputError("cannot write the results file " + write.string());
  if (!header) {
    out_ << nlohmann::json{{kFormatKey, 1}, {"config", config}}.dump() << '\n' << std::flush;
    if (!out_) throw InputError("cannot write the results file " + write.string());
  }
}

void ResultsLog::append(const ItemResult& result) {
  out_ << to_json_line(result) << '\n' << std::flush;
  if (!out_) throw InputError("cannot write the results file " + path_.string());
}

}  // namespace atman::eval

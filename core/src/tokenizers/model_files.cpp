#include "tokenizers/model_files.h"

#include <fstream>
#include <iterator>
#include <string>

#include "atman/error.h"

namespace atman::tokenizers {

std::optional<nlohmann::json> read_optional_json(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelError("Cannot read '" + path.string() + "'.");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw ModelError("'" + path.string() + "' is not valid JSON: " + e.what());
  }
}

void require_folder(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    throw ModelError("The model folder '" + dir.string() + "' does not exist.");
  }
}

std::filesystem::path require_file(const std::filesystem::path& dir, const char* name,
                                   const char* why) {
  std::filesystem::path path = dir / name;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw ModelError("The model folder '" + dir.string() + "' has no " + name + " (" + why + ").");
  }
  return path;
}

}  // namespace atman::tokenizers

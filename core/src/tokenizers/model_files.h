// Reading the small JSON side files of a Hugging Face model folder (config.json,
// tokenizer_config.json, added_tokens.json, ...), with errors that name the file.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

namespace atman::tokenizers {

// nullopt when the file does not exist; ModelError when it exists but is not valid JSON.
std::optional<nlohmann::json> read_optional_json(const std::filesystem::path& path);

// Throws ModelError naming `dir` unless it is an existing folder.
void require_folder(const std::filesystem::path& dir);
// Throws ModelError naming the folder and the file unless `dir / name` exists.
std::filesystem::path require_file(const std::filesystem::path& dir, const char* name,
                                   const char* why);

}  // namespace atman::tokenizers

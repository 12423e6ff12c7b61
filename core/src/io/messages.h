// Pieces of the checkpoint and config readers' error messages, shared so that every message names
// files and shapes the same way.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace atman {

// 'path', for messages.
std::string quoted(const std::filesystem::path& path);
// [2, 3, 4]; [] for a scalar.
std::string shape_to_string(const std::vector<int64_t>& shape);

}  // namespace atman

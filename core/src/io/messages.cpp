#include "io/messages.h"

namespace atman {

// Appends rather than `"'" + s + "'"`, which trips a false -Wrestrict in GCC 12.
std::string quoted(const std::filesystem::path& path) {
  std::string out(1, '\'');
  out += path.string();
  out += '\'';
  return out;
}

std::string shape_to_string(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

}  // namespace atman

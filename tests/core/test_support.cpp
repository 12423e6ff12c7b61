// The out-of-line part of test_support.h, compiled once into atman_test_support.
#include "core/test_support.h"

#include <map>

#include "atman/model.h"

namespace atman::test {

std::shared_ptr<const Model> shared_model(const std::string& name) {
  static std::map<std::string, std::shared_ptr<const Model>> loaded;
  auto& m = loaded[name];
  if (!m) m = Model::load(models_dir() / name);
  return m;
}

}  // namespace atman::test

#include "explain/post_process.h"

#include <cmath>

namespace atman::detail {

double post_process(double v, PostProcess post) {
  switch (post) {
    case PostProcess::Absolute:
      return std::abs(v);
    case PostProcess::Square:
      return v * v;
    case PostProcess::None:
      break;
  }
  return v;
}

}  // namespace atman::detail

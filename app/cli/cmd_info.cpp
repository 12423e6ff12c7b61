#include <iostream>

#include "atman/runtime.h"
#include "commands.h"
#include "common.h"

namespace atman::cli {

int run_info(int argc, char** argv) {
  Args args(argc, argv, 2, common_options({}), {});
  apply_common(args);
  std::cout << runtime_report();
  return 0;
}

}  // namespace atman::cli

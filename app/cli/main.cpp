#include <iostream>

#include "atman/runtime.h"

int main() {
  atman::set_compute_threads(0);
  std::cout << atman::runtime_report();
}

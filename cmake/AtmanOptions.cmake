# Warnings and sanitizer flags shared by every target of the project.
add_library(atman_options INTERFACE)
target_compile_options(atman_options INTERFACE -Wall -Wextra)
if(ATMAN_SANITIZE)
  target_compile_options(atman_options INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer)
  target_link_options(atman_options INTERFACE -fsanitize=address,undefined)
  # Lets the tests leave their long statistical checks to the Release stage (test_support.h).
  target_compile_definitions(atman_options INTERFACE ATMAN_SANITIZED=1)
endif()

# Warnings and sanitizer flags shared by every target of the project.
add_library(atman_options INTERFACE)
target_compile_options(atman_options INTERFACE -Wall -Wextra)
if(ATMAN_SANITIZE)
  target_compile_options(atman_options INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
    # After -fsanitize=undefined, or it would turn them back on: see atman_tensor_code() below.
    "$<$<BOOL:$<TARGET_PROPERTY:ATMAN_TENSOR_CODE>>:-fno-sanitize=null$<COMMA>alignment>")
  target_link_options(atman_options INTERFACE -fsanitize=address,undefined)
  # Lets the tests leave their long statistical checks to the Release stage (test_support.h).
  target_compile_definitions(atman_options INTERFACE ATMAN_SANITIZED=1)
endif()

# atman_tensor_code(target...): the sanitizers, less UBSan's null and alignment checks, for the
# targets whose translation units are mostly LibTorch's inlined templates (the models, explainers,
# evaluation and the tests). Those two checks on every reference and `this` in ATen's headers cost
# over a third of the sanitizer build's compile time; ASan still reports a null dereference, and
# the code that parses hostile bytes (text, tokenizers, prompt, io, image, hub, fuzz harnesses)
# keeps every check.
function(atman_tensor_code)
  if(ATMAN_SANITIZE)
    set_target_properties(${ARGN} PROPERTIES ATMAN_TENSOR_CODE ON)
  endif()
endfunction()

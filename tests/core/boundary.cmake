# The torch-free boundary as a rule: each header in core/include/atman/ compiles alone and includes
# nothing of LibTorch (cmake/check_torch_free_headers.cmake). nlohmann_json is allowed: prompt.h
# takes template variables as JSON.
add_test(NAME torch_free_headers
  COMMAND "${CMAKE_COMMAND}" "-DCXX=${CMAKE_CXX_COMPILER}"
          "-DINCLUDE_DIR=${PROJECT_SOURCE_DIR}/core/include"
          "-DEXTRA_INCLUDES=$<JOIN:$<TARGET_PROPERTY:nlohmann_json::nlohmann_json,INTERFACE_INCLUDE_DIRECTORIES>,|>"
          "-DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/torch_free_headers"
          -P "${PROJECT_SOURCE_DIR}/cmake/check_torch_free_headers.cmake")
set_tests_properties(torch_free_headers PROPERTIES LABELS core)

# The generated tables of core/src/text (unicode_tables.cpp, nfc_tables.cpp, html_entities.cpp)
# must be exactly what their generators in scripts/gen/ write. Skipped (not failed) without
# python3, or with a Python whose Unicode version differs from the one the tables were made from.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_test(NAME generated_tables
           COMMAND "${Python3_EXECUTABLE}" "${PROJECT_SOURCE_DIR}/scripts/gen/check_generated.py")
else()
  add_test(NAME generated_tables
           COMMAND sh -c "echo 'generated_tables: no python3 found, skipped'; exit 77")
endif()
set_tests_properties(generated_tables PROPERTIES LABELS core SKIP_RETURN_CODE 77)

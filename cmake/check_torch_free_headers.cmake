# The torch-free boundary (ctest -R torch_free_headers): every header under INCLUDE_DIR/atman/ is
# what ui/ may include, so each must compile alone in a translation unit of its own (no hidden
# include-order dependencies) with no LibTorch header (ATen/, c10/, torch/) reached through any
# chain of includes. Debian installs LibTorch under /usr/include, so leaving its include dirs off
# the command line proves nothing; the check reads the compiler's list of included files instead.
# Tensor-facing headers belong under core/src/ (atman_internal).
#
#   cmake -DCXX=<compiler> -DINCLUDE_DIR=<core/include> -DEXTRA_INCLUDES=<dir|dir...> -DWORK_DIR=<dir>
#         -P check_torch_free_headers.cmake
foreach(var CXX INCLUDE_DIR WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_torch_free_headers: ${var} is not set")
  endif()
endforeach()

file(GLOB_RECURSE headers RELATIVE "${INCLUDE_DIR}" "${INCLUDE_DIR}/atman/*.h")
if(NOT headers)
  message(FATAL_ERROR "no headers under ${INCLUDE_DIR}/atman")
endif()
set(flags -std=c++20 -fsyntax-only "-I${INCLUDE_DIR}")
string(REPLACE "|" ";" extra_includes "${EXTRA_INCLUDES}")  # '|': a ';' would split the ctest argument
foreach(dir ${extra_includes})
  list(APPEND flags "-I${dir}")
endforeach()

file(MAKE_DIRECTORY "${WORK_DIR}")
set(failures "")
foreach(header ${headers})
  string(MAKE_C_IDENTIFIER "${header}" stem)
  set(tu "${WORK_DIR}/${stem}.cpp")
  set(deps "${WORK_DIR}/${stem}.d")
  file(WRITE "${tu}" "#include \"${header}\"\n")
  execute_process(COMMAND "${CXX}" ${flags} -MD -MF "${deps}" "${tu}"
                  RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
  if(NOT rc EQUAL 0)
    list(APPEND failures "${header}: does not compile on its own:\n${err}")
    continue()
  endif()
  file(READ "${deps}" included)
  string(REGEX MATCHALL "[^ \t\n\\\\]*/(ATen|c10|torch)/[^ \t\n\\\\]*" torch_files "${included}")
  if(torch_files)
    list(GET torch_files 0 first)
    list(APPEND failures "${header}: includes LibTorch (${first}): move it under core/src/")
  endif()
endforeach()

list(LENGTH headers count)
if(failures)
  string(REPLACE ";" "\n" report "${failures}")
  message(FATAL_ERROR "torch-free boundary broken:\n${report}")
endif()
message(STATUS "${count} public headers compile alone without LibTorch")

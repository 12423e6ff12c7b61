# Coverage instrumentation for libFuzzer, included by the top-level CMakeLists.txt after
# AtmanOptions.cmake when ATMAN_FUZZ is on (ATMAN_SANITIZE is then on too). Sets ATMAN_FUZZ_LINK:
# what a harness links to get libFuzzer's main.
#
# clang: the usual -fsanitize=fuzzer. GCC (the compiler this project builds with, because clang
# rejects LibTorch 1.13's headers in C++20, see gcc_coverage.cpp): -fsanitize-coverage=trace-pc and
# trace-cmp on every project target, LLVM's libFuzzer runtime library (Debian: libclang-rt-14-dev,
# with clang), and gcc_coverage.cpp to turn trace-pc into libFuzzer counters. The tests of such a
# build link gcc_coverage.cpp as well and run normally.
# GCC's -fsanitize=undefined leaves out float-to-int conversions that overflow (clang's includes
# them); numbers read from files reach such casts, so check them too.
target_compile_options(atman_options INTERFACE -fsanitize=float-cast-overflow)
target_link_options(atman_options INTERFACE -fsanitize=float-cast-overflow)

if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  target_compile_options(atman_options INTERFACE -fsanitize=fuzzer-no-link)
  set(ATMAN_FUZZ_LINK -fsanitize=fuzzer)
  return()
endif()

if(NOT ATMAN_LIBFUZZER)
  find_program(ATMAN_CLANG NAMES clang clang-14)
  if(ATMAN_CLANG)
    execute_process(COMMAND "${ATMAN_CLANG}" -print-file-name=libclang_rt.fuzzer-x86_64.a
                    OUTPUT_VARIABLE guess OUTPUT_STRIP_TRAILING_WHITESPACE)
  endif()
  if(NOT IS_ABSOLUTE "${guess}" OR NOT EXISTS "${guess}")
    file(GLOB guess /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a)
    list(GET guess 0 guess)
  endif()
  if(NOT EXISTS "${guess}")
    message(FATAL_ERROR "ATMAN_FUZZ: libFuzzer's runtime libclang_rt.fuzzer-x86_64.a was not found; "
                        "install clang and libclang-rt-14-dev (scripts/setup.sh does)")
  endif()
  set(ATMAN_LIBFUZZER "${guess}" CACHE FILEPATH "libFuzzer runtime library")
endif()
message(STATUS "ATMAN_FUZZ: GCC coverage with libFuzzer from ${ATMAN_LIBFUZZER}")

# Not instrumented itself (it does not link atman_options).
add_library(atman_fuzz_coverage STATIC "${CMAKE_CURRENT_LIST_DIR}/gcc_coverage.cpp")
target_compile_options(atman_options INTERFACE -fsanitize-coverage=trace-pc,trace-cmp)
target_link_options(atman_options INTERFACE -Wl,--wrap=__sanitizer_cov_trace_pc)
target_link_libraries(atman_options INTERFACE atman_fuzz_coverage)
find_package(Threads REQUIRED)
set(ATMAN_FUZZ_LINK "${ATMAN_LIBFUZZER}" Threads::Threads ${CMAKE_DL_LIBS})

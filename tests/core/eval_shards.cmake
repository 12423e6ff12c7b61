# Sharded and resumable evaluation (docs/cluster.md): the core pieces (test_eval_shards), then the
# `atman eval` command end to end, split with --shard and resumed (eval_shards_cli), and under
# `mpirun -n 2` against `-n 1` (eval_mpi; skipped, code 77, without mpirun or an MPI build).
atman_add_test(test_eval_shards SOURCES core/test_eval_shards.cpp
               LIBS atman_core atman_test_support nlohmann_json::nlohmann_json LABELS "core;model")
# The CLI's side without MPI (--shard, the GPU of a rank, the stub's refusal of an MPI launch).
atman_add_test(test_eval_shard_args
               SOURCES core/test_eval_shard_args.cpp ${PROJECT_SOURCE_DIR}/app/cli/eval_shards.cpp
                       ${PROJECT_SOURCE_DIR}/app/cli/cli_args.cpp
                       ${PROJECT_SOURCE_DIR}/app/cli/mpi_shards_off.cpp
               LIBS atman_core nlohmann_json::nlohmann_json LABELS "core")
target_include_directories(test_eval_shard_args PRIVATE "${PROJECT_SOURCE_DIR}/app/cli")
# The script tests run the CLI: building the tests builds it (as for test_families).
add_dependencies(test_eval_shards atman)
find_program(ATMAN_MPIRUN NAMES mpirun mpiexec)
find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND)
  foreach(mode cli mpi)
    if(mode STREQUAL "cli")
      set(test_name eval_shards_cli)
    else()
      set(test_name eval_mpi)
    endif()
    add_test(NAME ${test_name}
             COMMAND bash "${CMAKE_CURRENT_SOURCE_DIR}/core/eval_mpi_test.sh" ${mode}
                     "$<TARGET_FILE:atman>" "${PROJECT_SOURCE_DIR}/../shared" "${Python3_EXECUTABLE}"
                     "${CMAKE_CURRENT_SOURCE_DIR}/core/eval_compare.py"
                     "$<IF:$<BOOL:${ATMAN_WITH_MPI}>,${ATMAN_MPIRUN},>")
    set_tests_properties(${test_name} PROPERTIES LABELS "core;model" SKIP_RETURN_CODE 77 TIMEOUT 300)
  endforeach()
endif()

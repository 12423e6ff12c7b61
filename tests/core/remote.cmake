# atman serve and its client (docs/remote.md): a server on 127.0.0.1 started by the test; remote
# equals local bit for bit, tokens, TLS, cancel, malformed messages, concurrent clients. Also runs
# the CLI as a client (`explain --server`).
if(ATMAN_WITH_SERVER)
  atman_add_test(test_remote SOURCES core/test_remote.cpp
                 LIBS atman_core atman_remote atman_remote_proto atman_test_support atman_internal
                      nlohmann_json::nlohmann_json
                 LABELS "core;model")
  target_compile_definitions(test_remote PRIVATE ATMAN_CLI="$<TARGET_FILE:atman>")
  add_dependencies(test_remote atman)
endif()

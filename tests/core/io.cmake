# Tests of the checkpoint and config readers (atman_io).
atman_add_test(test_safetensors SOURCES core/test_safetensors.cpp LIBS atman_io atman_internal
               LABELS core)
atman_add_test(test_hf_config SOURCES core/test_hf_config.cpp LIBS atman_io LABELS core)
# Zero-copy loading, compute dtypes and the memory estimate, on tiny random checkpoints.
atman_add_test(test_loading SOURCES core/test_loading.cpp
               LIBS atman_core atman_test_support atman_internal nlohmann_json::nlohmann_json
               LABELS "core;model")

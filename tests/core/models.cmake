atman_add_test(test_golden_forward SOURCES core/test_golden_forward.cpp
               LIBS atman_core nlohmann_json::nlohmann_json LABELS "core;model")
atman_add_test(test_golden_atman SOURCES core/test_golden_atman.cpp
               LIBS atman_core nlohmann_json::nlohmann_json LABELS "core;model")

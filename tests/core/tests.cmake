# Architecture, explainer and evaluation tests on tiny random checkpoints written at test time
# (core/tiny_models.cpp) and on the bundled models.
atman_add_test(test_models SOURCES core/test_models.cpp
               LIBS atman_core atman_test_support atman_internal nlohmann_json::nlohmann_json
               LABELS "core;model")
atman_add_test(test_explainer SOURCES core/test_explainer.cpp
               LIBS atman_core atman_test_support atman_internal nlohmann_json::nlohmann_json
               LABELS "core;model")
atman_add_test(test_eval SOURCES core/test_eval.cpp
               LIBS atman_core atman_test_support nlohmann_json::nlohmann_json LABELS "core;model")
atman_add_test(test_explain_api SOURCES core/test_explain_api.cpp LIBS atman_core LABELS "core")

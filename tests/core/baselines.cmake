# Baseline explainers (attention, rollout, ixg, ig, gradcam, chefer) against direct computations on
# tiny random models, the registry, and every method on the bundled models.
atman_add_test(test_baselines SOURCES core/test_baselines.cpp
               LIBS atman_core atman_test_support atman_internal nlohmann_json::nlohmann_json
               LABELS "core;model")

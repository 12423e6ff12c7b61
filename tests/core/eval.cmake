# Evaluation tests beyond test_eval (tests.cmake): faithfulness curves and the target-probability
# probe, the COCO128 / SQuAD datasets, and LLaVA on shapes-eval. Each runs well under 90 s.
atman_add_test(test_eval_faithfulness SOURCES core/test_eval_faithfulness.cpp
               LIBS atman_core atman_test_support nlohmann_json::nlohmann_json LABELS "core;model")
atman_add_test(test_eval_datasets SOURCES core/test_eval_datasets.cpp
               LIBS atman_core atman_test_support nlohmann_json::nlohmann_json LABELS "core;model")
atman_add_test(test_eval_llava SOURCES core/test_eval_llava.cpp
               LIBS atman_core nlohmann_json::nlohmann_json LABELS "core;model")

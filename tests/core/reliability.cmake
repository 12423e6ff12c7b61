# Reliability (docs/RELIABILITY.md): the catalogue of hostile inputs and their messages, and the
# explainer on a worker thread (random cancels, back-to-back requests, RSS over many runs).
find_package(JPEG REQUIRED)  # the catalogue writes a CMYK JPEG, which OpenCV cannot
atman_add_test(test_hostile_inputs SOURCES core/test_hostile_inputs.cpp
  LIBS atman_core atman_test_support atman_internal nlohmann_json::nlohmann_json ${OpenCV_LIBS}
       JPEG::JPEG
  LABELS "core;model")
atman_add_test(test_worker_robustness SOURCES core/test_worker_robustness.cpp
  LIBS atman_core atman_test_support nlohmann_json::nlohmann_json LABELS "core;model")
set_tests_properties(test_hostile_inputs test_worker_robustness PROPERTIES TIMEOUT 600)

# The GUI side: the worker's job ids under back-to-back requests, core errors as dialogs, asking
# before closing with an unexported result.
if(ATMAN_BUILD_GUI)
  atman_add_test(test_gui_reliability SOURCES ui/test_gui_reliability.cpp LIBS atman_ui LABELS gui)
  set_tests_properties(test_gui_reliability PROPERTIES ENVIRONMENT "QT_QPA_PLATFORM=offscreen" TIMEOUT 300)
endif()

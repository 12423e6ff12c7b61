# AtMan Studio GUI tests: real widgets on the offscreen platform, driving the bundled models.
set(gui_tests test_gui_widgets test_gui_heatmap test_gui_kappa test_gui_export test_gui_robustness test_gui_lm
  test_gui_steering)
foreach(name ${gui_tests})
  atman_add_test(${name} SOURCES ui/${name}.cpp LIBS atman_ui LABELS gui)
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "QT_QPA_PLATFORM=offscreen" TIMEOUT 180)
endforeach()
# Each RoPE decoder family (tiny random checkpoints of the shrunk public configs) explained in the window.
atman_add_test(test_gui_families SOURCES ui/test_gui_families.cpp
               LIBS atman_ui atman_test_support nlohmann_json::nlohmann_json LABELS gui)
set_tests_properties(test_gui_families PROPERTIES ENVIRONMENT "QT_QPA_PLATFORM=offscreen" TIMEOUT 180)
# LLaVA-NeXT / OneVision (tiny random checkpoints, core/tiny_llava.h): the overlay on the picture.
atman_add_test(test_gui_anyres SOURCES ui/test_gui_anyres.cpp
               LIBS atman_ui atman_test_support nlohmann_json::nlohmann_json LABELS gui)
set_tests_properties(test_gui_anyres PROPERTIES ENVIRONMENT "QT_QPA_PLATFORM=offscreen" TIMEOUT 180)
# Qwen2.5-VL and LLaVA-NeXT (tiny random checkpoints) steered on their image tokens: the cells are
# the tokens' rectangles (a non-square grid for Qwen2.5-VL), a click steers the cell's token.
atman_add_test(test_gui_vlm SOURCES ui/test_gui_vlm.cpp
               LIBS atman_ui atman_test_support nlohmann_json::nlohmann_json LABELS gui)
set_tests_properties(test_gui_vlm PROPERTIES ENVIRONMENT "QT_QPA_PLATFORM=offscreen" TIMEOUT 180)
# ExplainSession on its own: no widget, no window (QTEST_GUILESS_MAIN).
atman_add_test(test_explain_session SOURCES ui/test_explain_session.cpp LIBS atman_ui LABELS gui)
set_tests_properties(test_explain_session PROPERTIES TIMEOUT 180)
# AtMan Studio as a client of `atman serve`: a server on 127.0.0.1 started by the test (in-process,
# atman_remote), remote heatmap pixels equal to local ones, a dropped connection, reconnecting.
if(ATMAN_WITH_SERVER)
  atman_add_test(test_gui_remote SOURCES ui/test_gui_remote.cpp
                 LIBS atman_ui atman_remote atman_internal LABELS gui)
  set_tests_properties(test_gui_remote PROPERTIES ENVIRONMENT "QT_QPA_PLATFORM=offscreen" TIMEOUT 180)
  # Every kind of worker job on the server equals the same job here (no widgets).
  atman_add_test(test_gui_remote_jobs SOURCES ui/test_gui_remote_jobs.cpp
                 LIBS atman_ui atman_remote atman_internal LABELS gui)
  set_tests_properties(test_gui_remote_jobs PROPERTIES TIMEOUT 180)
endif()

# Hugging Face Hub downloads (atman_hub) against a fake Hub: an HTTP server on 127.0.0.1 that the
# test starts itself. No traffic leaves the machine.
atman_add_test(test_hub SOURCES core/test_hub.cpp LIBS atman_hub LABELS core)
set_tests_properties(test_hub PROPERTIES TIMEOUT 180)

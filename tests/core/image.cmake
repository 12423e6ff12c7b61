atman_add_test(test_image SOURCES core/test_image.cpp LIBS atman_image ${OpenCV_LIBS} LABELS core)

atman_add_test(test_image SOURCES core/test_image.cpp LIBS atman_image atman_internal ${OpenCV_LIBS}
               LABELS core)

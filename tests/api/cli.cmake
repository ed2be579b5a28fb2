sensed_api_test(test_cli ${CMAKE_CURRENT_LIST_DIR}/test_cli.c)

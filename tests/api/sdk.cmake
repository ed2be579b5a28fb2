sensed_api_test(test_sdk ${CMAKE_CURRENT_LIST_DIR}/test_sdk.c)

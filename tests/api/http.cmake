# Black-box tests of the HTTP layer (owner: http).
sensed_api_test(test_http ${CMAKE_CURRENT_LIST_DIR}/test_http.c)
add_dependencies(test_http echo)

sensed_api_test(test_users ${CMAKE_CURRENT_LIST_DIR}/test_users.c)
sensed_api_test(test_groups ${CMAKE_CURRENT_LIST_DIR}/test_groups.c)

sensed_api_test(test_auth ${CMAKE_CURRENT_LIST_DIR}/test_auth.c)
# The black-box tests load the authkit test plugin (a user factory).
add_dependencies(test_auth authkit)

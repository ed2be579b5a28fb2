# Black-box tests of plugin loading, the SDK template and the out-of-tree build (owner: loader).
sensed_api_test(test_plugins ${CMAKE_CURRENT_LIST_DIR}/test_plugins.c)
target_compile_definitions(test_plugins PRIVATE SENSED_BUILD_DIR="${CMAKE_BINARY_DIR}")
add_dependencies(test_plugins application tp_noentry tp_badmagic tp_abimajor tp_newminor
                 tp_smalldesc tp_janssonmajor tp_janssonpatch tp_initfail tp_undo conflict_a
                 conflict_b dup_a dup_b tp_frozen10 tp_late tp_admin tp_hello)

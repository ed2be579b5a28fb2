# Unit tests of the plugin loader and host table (owner: loader).
sensed_unit_test(test_plugin_loader ${CMAKE_CURRENT_LIST_DIR}/test_plugin_loader.c
                 PARTS sensed_base sensed_store sensed_http sensed_auth sensed_plugins)
target_compile_definitions(test_plugin_loader PRIVATE
  SENSED_TEST_PLUGIN_DIR="${CMAKE_BINARY_DIR}/tests/plugins")
add_dependencies(test_plugin_loader tp_noentry tp_badmagic tp_abimajor tp_newminor tp_smalldesc
                 tp_janssonmajor tp_janssonpatch tp_initfail tp_undo conflict_a conflict_b dup_a
                 dup_b tp_frozen10 tp_late)

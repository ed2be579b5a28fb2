sensed_unit_test(test_config ${CMAKE_CURRENT_LIST_DIR}/test_config.c PARTS sensed_base)
target_compile_definitions(test_config PRIVATE SENSED_SOURCE_DIR="${PROJECT_SOURCE_DIR}")

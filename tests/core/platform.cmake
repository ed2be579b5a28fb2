# Unit tests of core/features.c and core/translations.c (owner: platform).  test_core_*:
# the names test_features and test_translations belong to the black-box suite (tests/api).
sensed_unit_test(test_core_features ${CMAKE_CURRENT_LIST_DIR}/test_features.c
                 PARTS sensed_base sensed_store sensed_http sensed_auth sensed_plugins)
sensed_unit_test(test_core_translations ${CMAKE_CURRENT_LIST_DIR}/test_translations.c
                 PARTS sensed_base sensed_store sensed_http sensed_auth sensed_plugins)
target_compile_definitions(test_core_translations PRIVATE
  SENSED_SOURCE_DIR="${PROJECT_SOURCE_DIR}")

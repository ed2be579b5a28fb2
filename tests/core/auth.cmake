# jwt.c alone: the rest of sensed_auth needs the store and the HTTP layer.
sensed_unit_test(test_jwt ${CMAKE_CURRENT_LIST_DIR}/test_jwt.c)
target_sources(test_jwt PRIVATE ${PROJECT_SOURCE_DIR}/core/jwt.c ${PROJECT_SOURCE_DIR}/core/json_load.c)
# test_core_auth: the name test_auth belongs to the black-box suite (tests/api).
sensed_unit_test(test_core_auth ${CMAKE_CURRENT_LIST_DIR}/test_auth.c
                 PARTS sensed_base sensed_store sensed_http sensed_auth sensed_plugins)

# Unit tests of the HTTP layer (owner: http).  The router and errors tests compile their
# sources directly so they do not depend on the other core parts.
sensed_unit_test(test_router ${CMAKE_CURRENT_LIST_DIR}/test_router.c PARTS sensed_base)
target_sources(test_router PRIVATE ${PROJECT_SOURCE_DIR}/core/router.c)
sensed_unit_test(test_errors ${CMAKE_CURRENT_LIST_DIR}/test_errors.c PARTS sensed_base)
sensed_unit_test(test_request ${CMAKE_CURRENT_LIST_DIR}/test_request.c
                 PARTS sensed_base sensed_store sensed_http sensed_auth sensed_plugins)

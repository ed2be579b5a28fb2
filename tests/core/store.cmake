# The document store's unit tests (owner: store).
sensed_unit_test(test_objectid ${CMAKE_CURRENT_LIST_DIR}/test_objectid.c PARTS sensed_store)
sensed_unit_test(test_filter ${CMAKE_CURRENT_LIST_DIR}/test_filter.c PARTS sensed_store)
sensed_unit_test(test_store ${CMAKE_CURRENT_LIST_DIR}/test_store.c PARTS sensed_store)

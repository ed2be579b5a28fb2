# The reliability suite (owner: perf): authorization sweep, crash consistency, overload and
# hostile clients, allocation failures.  See tests/reliability/README.md.

# The benchmark plugin (bench/plugin/benchdoc.c) doubles as the write/list load of these
# tests: built here like a test plugin, into tests/plugins/benchdoc.
add_library(benchdoc MODULE ${PROJECT_SOURCE_DIR}/bench/plugin/benchdoc.c)
target_include_directories(benchdoc PRIVATE ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(benchdoc PRIVATE PkgConfig::JANSSON)
set_target_properties(benchdoc PROPERTIES PREFIX "" C_VISIBILITY_PRESET hidden
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/plugins/benchdoc)

function(sensed_reliability_test name)
  sensed_api_test(${name} ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/${name}.c)
  target_sources(${name} PRIVATE ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/rel.c)
  add_dependencies(${name} benchdoc)
endfunction()

sensed_reliability_test(test_authz)
sensed_reliability_test(test_crash)
sensed_reliability_test(test_overload)

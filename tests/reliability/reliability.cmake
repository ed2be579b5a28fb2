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

# Allocation failures: sensed_oom is the server built from the same core objects with every
# allocation of the core (and of jansson and libevent, installed by the shim) routed through
# oom_alloc.c, which fails the Nth one of a request asking for it.  Test-only: the production
# binary `sensed` is untouched.
add_executable(sensed_oom ${PROJECT_SOURCE_DIR}/core/main.c
               ${CMAKE_CURRENT_LIST_DIR}/oom_alloc.c)
target_compile_definitions(sensed_oom PRIVATE $<TARGET_PROPERTY:sensed,COMPILE_DEFINITIONS>)
target_link_libraries(sensed_oom PRIVATE sensed_base sensed_store sensed_http sensed_auth
                      sensed_plugins PkgConfig::LIBEVENT PkgConfig::JANSSON PkgConfig::LMDB
                      PkgConfig::SODIUM Threads::Threads ${CMAKE_DL_LIBS})
target_link_options(sensed_oom PRIVATE
  "LINKER:--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup"
  "LINKER:--wrap=request_dispatch,--wrap=request_run_job,--wrap=evhttp_send_reply")
# Beside `sensed`, so it finds the build tree's plugins and translations the same way.
set_target_properties(sensed_oom PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})

add_executable(test_oom ${CMAKE_CURRENT_LIST_DIR}/test_oom.c
               ${CMAKE_CURRENT_LIST_DIR}/rel.c ${PROJECT_SOURCE_DIR}/tests/api/harness.c)
target_include_directories(test_oom PRIVATE ${PROJECT_SOURCE_DIR}/tests
                           ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(test_oom PRIVATE PkgConfig::CRITERION PkgConfig::JANSSON Threads::Threads)
target_compile_definitions(test_oom PRIVATE
  SENSED_BIN="$<TARGET_FILE:sensed_oom>"
  SENSED_SHARED_DIR="${PROJECT_SOURCE_DIR}/../shared"
  SENSED_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  SENSED_TEST_PLUGIN_DIR="${CMAKE_BINARY_DIR}/tests/plugins")
add_dependencies(test_oom sensed_oom benchdoc)
add_test(NAME test_oom COMMAND test_oom --jobs 2)
set_tests_properties(test_oom PROPERTIES TIMEOUT 300)

# Black-box tests of the content plugin (plugins/content); users come from authkit.
foreach(t folders dashboards widgets sharing import_export copy)
  sensed_api_test(test_${t} ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c)
  add_dependencies(test_${t} authkit content)
endforeach()

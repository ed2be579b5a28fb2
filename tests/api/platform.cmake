# Black-box tests of settings, features, plugins and translations (owner: platform).
sensed_api_test(test_settings ${CMAKE_CURRENT_LIST_DIR}/test_settings.c)
add_dependencies(test_settings settings translations application authkit tp_featurekit tp_featurekit2)
sensed_api_test(test_features ${CMAKE_CURRENT_LIST_DIR}/test_features.c)
add_dependencies(test_features features authkit tp_featurekit tp_featurekit2)
sensed_api_test(test_plugins_api ${CMAKE_CURRENT_LIST_DIR}/test_plugins_api.c)
add_dependencies(test_plugins_api plugins features settings translations authkit tp_featurekit
                 tp_featurekit2 tp_initfail)
sensed_api_test(test_translations ${CMAKE_CURRENT_LIST_DIR}/test_translations.c)
add_dependencies(test_translations translations settings plugins features authkit tp_featurekit
                 tp_featurekit2)

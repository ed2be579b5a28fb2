# Install rules for the plugin SDK: the header, a pkg-config file and a CMake package, so a
# third party builds a plugin against an installed sensed either way (see sdk/GUIDE.md).
# Included from the top CMakeLists.txt after the targets are defined.
include(CMakePackageConfigHelpers)

# The SDK ABI as the header states it (the header is the one source of truth).
file(STRINGS ${PROJECT_SOURCE_DIR}/include/sensed/plugin.h SENSED_ABI_LINES
     REGEX "^#define SENSED_SDK_ABI_(MAJOR|MINOR) ")
string(REGEX REPLACE ".*MAJOR +([0-9]+).*" "\\1" SENSED_SDK_ABI_MAJOR "${SENSED_ABI_LINES}")
string(REGEX REPLACE ".*MINOR +([0-9]+).*" "\\1" SENSED_SDK_ABI_MINOR "${SENSED_ABI_LINES}")

set(SENSED_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/SensedPlugin)

install(FILES ${PROJECT_SOURCE_DIR}/include/sensed/plugin.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/sensed)

# pkg-config: prefix found from the .pc file's own place, so `cmake --install --prefix`
# anywhere gives a working file.
file(RELATIVE_PATH SENSED_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" SENSED_PC_TO_PREFIX "${SENSED_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/sensed-plugin.pc.in
               ${PROJECT_BINARY_DIR}/sensed-plugin.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/sensed-plugin.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/SensedPluginConfig.cmake.in
  ${PROJECT_BINARY_DIR}/SensedPluginConfig.cmake
  INSTALL_DESTINATION ${SENSED_INSTALL_CMAKEDIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR SENSED_INSTALL_PLUGIN_DIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/SensedPluginConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY AnyNewerVersion)
install(FILES ${PROJECT_BINARY_DIR}/SensedPluginConfig.cmake
              ${PROJECT_BINARY_DIR}/SensedPluginConfigVersion.cmake
        DESTINATION ${SENSED_INSTALL_CMAKEDIR})

# The lead writes etc/sensed.json; installed as etc/sensed/sensed.json when present.
install(FILES ${PROJECT_SOURCE_DIR}/etc/sensed.json
        DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}/sensed OPTIONAL)
# The language files (core/translations.c); an installed binary finds them at
# <bin>/../share/sensed/translations.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/etc/translations/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/sensed/translations FILES_MATCHING PATTERN "*.json")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/etc/geo/ DESTINATION ${CMAKE_INSTALL_DATADIR}/sensed/geo)

#!/bin/sh
# Install a build tree into a prefix, then build the SDK template (sdk/hello) against the
# installed sensed the two ways a third party would:
#   WORK/cmake-build/hello.so  with find_package(SensedPlugin) and CMAKE_PREFIX_PATH
#   WORK/make-build/hello.so   with its Makefile and pkg-config (PKG_CONFIG_PATH)
# Usage: build_out_of_tree.sh BUILD_DIR SOURCE_DIR WORK_DIR
set -eu
build=$1
source=$2
work=$3
prefix=$work/prefix

cmake --install "$build" --prefix "$prefix"
test -f "$prefix/include/sensed/plugin.h"
test -f "$prefix/lib/pkgconfig/sensed-plugin.pc"
test -f "$prefix/lib/cmake/SensedPlugin/SensedPluginConfig.cmake"
test -f "$prefix/lib/cmake/SensedPlugin/SensedPluginConfigVersion.cmake"
test -x "$prefix/bin/sensed"
ls "$prefix"/lib/sensed/plugins/*.so >/dev/null

# Only the installed prefix: nothing from the source or build tree leaks in.
cmake -S "$source/sdk/hello" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" \
	-DCMAKE_BUILD_TYPE=Release
cmake --build "$work/cmake-build"
test -f "$work/cmake-build/hello.so"

mkdir -p "$work/make-build"
cp "$source/sdk/hello/hello.c" "$source/sdk/hello/Makefile" "$work/make-build/"
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" make -C "$work/make-build"
test -f "$work/make-build/hello.so"
test -d "$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --variable=plugindir sensed-plugin)"
# The plugin dir must hold only the plugin.
rm -f "$work/make-build/hello.c" "$work/make-build/Makefile"

#!/usr/bin/env bash
# Build the libFuzzer targets with clang-14 (ASan + UBSan + libFuzzer) and run each for a
# bounded time from the seeds in fuzz/corpus/<target>.  Any crash, leak, timeout or
# sanitizer report fails the script; the reproducer is kept in the build directory.
#   fuzz/run.sh [seconds per target, default 20] [target ...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-20}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_router fuzz_query fuzz_filter fuzz_config fuzz_jwt)
build=${SENSED_FUZZ_BUILD:-$root/build-fuzz}
CC=clang-14 cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSENSED_FUZZ=ON \
  -DSENSED_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" >"$build/fuzz-build.log" 2>&1 ||
  { cat "$build/fuzz-build.log"; exit 1; }
status=0
for t in "${targets[@]}"; do
  seeds="$root/fuzz/corpus/${t#fuzz_}"
  work="$build/fuzz/corpus-${t#fuzz_}"   # grows across runs; the seeds stay read-only
  mkdir -p "$work" "$build/fuzz/artifacts"
  echo "== $t: ${secs}s"
  if ! ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
       UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
       "$build/fuzz/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
         -max_len=4096 -print_final_stats=1 -artifact_prefix="$build/fuzz/artifacts/$t-" \
         "$work" "$seeds" >"$build/fuzz/$t.log" 2>&1; then
    tail -60 "$build/fuzz/$t.log"; echo "FAIL $t" >&2; status=1
  else
    grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$build/fuzz/$t.log" |
      tr '\n' ' '; echo
  fi
done
exit $status

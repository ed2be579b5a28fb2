#!/usr/bin/env bash
# Benchmark sensed against nginx serving the same bytes, in the same run, same pinning:
# server on CPU 0, wrk on CPU 1 (2-core machine), wrk -t1 -c50.
#   bench/run.sh [seconds per case, default 10]
# Prints req/s, p50/p99 latency and the ratio to nginx; writes bench/results/<date>.txt.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-10}
bash "$root/.ci/deps" bench
work=$(mktemp -d /tmp/sensed-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

cmake -S "$root" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DSENSED_TESTS=OFF >/dev/null
cmake --build "$work/build" -j"$(nproc)" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
cmake --install "$work/build" --prefix "$work/prefix" >/dev/null
mkdir -p "$work/plugins"
# The bench plugin builds against the installed SDK, as a third party's would.
cc -O2 -shared -fPIC -fvisibility=hidden -o "$work/plugins/benchdoc.so" "$root/bench/plugin/benchdoc.c" \
   $(PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig:$work/prefix/lib/x86_64-linux-gnu/pkgconfig" \
     pkg-config --cflags --libs sensed-plugin)

port=18081; nginx_port=18082
# Same work as nginx below: no access log on either side.
echo '{"accessLog": false}' >"$work/sensed.json"
email=bench@sensed.test; password=bench-password-1
SENSED_ADMIN_EMAIL=$email SENSED_ADMIN_PASSWORD=$password \
  taskset -c 0 "$work/prefix/bin/sensed" --config "$work/sensed.json" --listen 127.0.0.1:$port --data "$work/data" \
  --workers 1 --plugin-dir "$work/plugins" 2>"$work/sensed.log" &
for _ in $(seq 100); do grep -q "listening on" "$work/sensed.log" && break; sleep 0.1; done
api=http://127.0.0.1:$port/api/v1
token=$(curl -sf -X POST "$api/authentication/login" -H 'Content-Type: application/json' \
        -d "{\"username\":\"$email\",\"password\":\"$password\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
# A 1 KB document, like a user or a folder.
doc=$(python3 -c 'import json; print(json.dumps({"title": "Benchmark document", "desc": "x" * 800, "tags": ["a", "b", "c"], "owner": "5e1f0c2a9d3b4a0012345678", "shares": [{"shareId": "5e1f0c2a9d3b4a0012345679", "type": "user", "rule": "view"}]}))')
id=$(curl -sf -X POST "$api/bench/documents" -H "Authorization: Bearer $token" \
     -H 'Content-Type: application/json' -d "$doc" | python3 -c 'import json,sys; print(json.load(sys.stdin)["_id"])')
mkdir -p "$work/www"
chmod 755 "$work" "$work/www"  # nginx's workers run as www-data
curl -sf "$api/bench/documents/$id" -H "Authorization: Bearer $token" >"$work/www/document.json"
curl -sf "$api/application/status" >"$work/www/status.json"

cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  default_type application/json;
  server { listen 127.0.0.1:$nginx_port; root $work/www; }
}
NGINX
taskset -c 0 nginx -c "$work/nginx.conf" -p "$work" &
sleep 0.5

results=()
run_wrk() { # name url [header]
  local out
  if [ -n "${3:-}" ]; then
    out=$(taskset -c 1 wrk -t1 -c50 -d"${secs}s" --latency -H "$3" "$2")
  else
    out=$(taskset -c 1 wrk -t1 -c50 -d"${secs}s" --latency "$2")
  fi
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errors=$(grep -Eo 'Non-2xx or 3xx responses: [0-9]+' <<<"$out" | awk '{print $NF}' || true)
  results+=("$1|$rps|$p50|$p99|${errors:-0}")
}
run_wrk "nginx static status.json" "http://127.0.0.1:$nginx_port/status.json"
run_wrk "sensed GET /application/status (public)" "$api/application/status"
run_wrk "nginx static document.json" "http://127.0.0.1:$nginx_port/document.json"
run_wrk "sensed GET one document (JWT + revocation + read)" "$api/bench/documents/$id" "Authorization: Bearer $token"

mkdir -p "$root/bench/results"
out="$root/bench/results/$(date -u +%Y-%m-%dT%H%M%SZ).txt"
{
  echo "date: $(date -u +%FT%TZ)  host: $(nproc) cores  wrk -t1 -c50 -d${secs}s, server on CPU 0, wrk on CPU 1"
  printf '%-52s %12s %10s %10s %8s %8s\n' case req/s p50 p99 non-2xx ratio
  base=""
  for r in "${results[@]}"; do
    IFS='|' read -r name rps p50 p99 errors <<<"$r"
    case "$name" in nginx*) base=$rps; ratio=1.00 ;;
      *) ratio=$(awk -v a="$rps" -v b="$base" 'BEGIN { printf "%.2f", a / b }') ;; esac
    printf '%-52s %12s %10s %10s %8s %8s\n' "$name" "$rps" "$p50" "$p99" "$errors" "$ratio"
  done
} | tee "$out"
echo "written to $out"

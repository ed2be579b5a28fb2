#!/usr/bin/env bash
# Benchmark sensed against nginx serving the same bytes, in the same run, same pinning:
# server on CPU 0, wrk on CPU 1 (2-core machine), wrk -t1 -c50.
#   bench/run.sh [seconds per case, default 10]
#   bench/run.sh --soak SECONDS   authenticated one-document GETs for SECONDS in 30 s slices,
#                                 printing the server's RSS after each slice, then stop
# Prints req/s, p50/p99 latency and the ratio to nginx (the last nginx case above it); writes
# bench/results/<date>.txt.  Cases: public status, one document, an indexed list at 10k and
# 100k documents, durable writes (one commit each, group commit) and non-durable writes, 1 vs 2
# workers, json-server (npm, installed into the temp dir) on the same requests, and the
# server's RSS idle / under load.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
soak=0
if [ "${1:-}" = "--soak" ]; then soak=${2:?--soak needs a number of seconds}; secs=5; else secs=${1:-10}; fi
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
email=bench@sensed.test; password=bench-password-1
start_sensed() { # port workers durable cpus -> sets sensed_pid
  echo "{\"accessLog\": false, \"durable\": $3}" >"$work/sensed-$1.json"
  SENSED_ADMIN_EMAIL=$email SENSED_ADMIN_PASSWORD=$password \
    taskset -c "$4" "$work/prefix/bin/sensed" --config "$work/sensed-$1.json" \
    --listen 127.0.0.1:$1 --data "$work/data-$1" --workers "$2" --plugin-dir "$work/plugins" \
    2>"$work/sensed-$1.log" &
  sensed_pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$work/sensed-$1.log" && break; sleep 0.1; done
}
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
start_sensed $port 1 true 0
main_pid=$sensed_pid
rss_idle=$(rss_kb $main_pid)
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
rss_load=$(rss_kb $main_pid)

if [ "$soak" -gt 0 ]; then
  # Memory must not grow under a steady load: RSS after each slice of the same requests.
  series=""
  for ((elapsed = 0; elapsed < soak; elapsed += 30)); do
    taskset -c 1 wrk -t1 -c50 -d30s -H "Authorization: Bearer $token" "$api/bench/documents/$id" \
      | awk '/Requests\/sec/ {printf "%s req/s, ", $2}'
    series="$series $(rss_kb $main_pid)"
    echo "rss after $((elapsed + 30)) s: $(rss_kb $main_pid) kB"
  done
  echo "soak ${soak}s: RSS idle $rss_idle kB, per slice (kB):$series"
  exit 0
fi

# ---- Lists: GET /bench/documents?key=K, K indexed, one match, at 10k and at 100k documents.
seed() { # count offset port: POST documents {key: "k<i>", ...} over one keep-alive connection
  python3 - "$1" "$2" "$3" "$token" <<'PY'
import http.client, json, sys
n, off, port, tok = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
c = http.client.HTTPConnection("127.0.0.1", port)
h = {"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
for i in range(off, off + n):
    c.request("POST", "/api/v1/bench/documents", json.dumps({"key": "k%d" % i, "title": "doc %d" % i, "desc": "x" * 200}), h)
    r = c.getresponse(); r.read()
    assert r.status == 201, r.status
PY
}
curl -sf "$api/bench/documents?key=k5000" -H "Authorization: Bearer $token" >/dev/null
seed 10000 0 $port
curl -sf "$api/bench/documents?key=k5000" -H "Authorization: Bearer $token" >"$work/www/list.json"
run_wrk "nginx static list.json" "http://127.0.0.1:$nginx_port/list.json"
run_wrk "sensed GET list ?key= (indexed, 10k docs)" "$api/bench/documents?key=k5000" "Authorization: Bearer $token"
seed 90000 10000 $port
run_wrk "sensed GET list ?key= (indexed, 100k docs)" "$api/bench/documents?key=k5000" "Authorization: Bearer $token"
rss_100k=$(rss_kb $main_pid)

# ---- Durable writes: POST /bench/documents, fsync per commit (durable), one fsync per batch
# (group commit: ?commit=group, the committer thread batches queued writes) vs MDB_NOSYNC.
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"key":"w","title":"write benchmark","desc":"$(printf 'x%.0s' $(seq 200))"}'
wrk.headers["Content-Type"] = "application/json"
LUA
run_wrk_post() { # name url
  local out
  out=$(taskset -c 1 wrk -t1 -c50 -d"${secs}s" --latency -s "$work/post.lua" -H "Authorization: Bearer $token" "$2")
  results+=("$1|$(awk '/Requests\/sec/ {print $2}' <<<"$out")|$(awk '$1=="50%" {print $2}' <<<"$out")|$(awk '$1=="99%" {print $2}' <<<"$out")|$(grep -Eo 'Non-2xx or 3xx responses: [0-9]+' <<<"$out" | awk '{print $NF}' || true)")
}
run_wrk_post "sensed POST document (durable: fsync/commit)" "$api/bench/documents"
run_wrk_post "sensed POST document (durable, group commit)" "$api/bench/documents?commit=group"
start_sensed 18083 1 false 0
nosync_token=$(curl -sf -X POST "http://127.0.0.1:18083/api/v1/authentication/login" -H 'Content-Type: application/json' \
        -d "{\"username\":\"$email\",\"password\":\"$password\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
saved_token=$token; token=$nosync_token
run_wrk_post "sensed POST document (durable: false, no fsync)" "http://127.0.0.1:18083/api/v1/bench/documents"
token=$saved_token
kill $sensed_pid; wait $sensed_pid 2>/dev/null || true

# ---- Workers: 1 vs 2 loop threads on both cores (wrk shares them: the limit on 2 cores).
start_sensed 18084 2 true 0,1
w2_token=$(curl -sf -X POST "http://127.0.0.1:18084/api/v1/authentication/login" -H 'Content-Type: application/json' \
        -d "{\"username\":\"$email\",\"password\":\"$password\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
run_wrk_any() { # name url header cpus
  local out
  out=$(taskset -c "$4" wrk -t2 -c50 -d"${secs}s" --latency -H "$3" "$2")
  results+=("$1|$(awk '/Requests\/sec/ {print $2}' <<<"$out")|$(awk '$1=="50%" {print $2}' <<<"$out")|$(awk '$1=="99%" {print $2}' <<<"$out")|0")
}
run_wrk_any "sensed status, 1 worker, wrk -t2 on both cores" "$api/application/status" "X-A: b" 0,1
run_wrk_any "sensed status, 2 workers, wrk -t2 on both cores" "http://127.0.0.1:18084/api/v1/application/status" "X-A: b" 0,1
kill $sensed_pid; wait $sensed_pid 2>/dev/null || true

# ---- json-server (npm), same document and the same list request, same pinning.
if command -v npm >/dev/null; then
  mkdir -p "$work/js"
  (cd "$work/js" && npm install --silent --no-audit --no-fund json-server@0.17.4 >/dev/null 2>&1) || true
  python3 - "$work/www/document.json" "$work/js/db.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
doc["id"] = doc["_id"]
docs = [doc] + [{"id": "%024x" % i, "key": "k%d" % i, "title": "doc %d" % i, "desc": "x" * 200} for i in range(10000)]
json.dump({"documents": docs}, open(sys.argv[2], "w"))
PY
  if [ -x "$work/js/node_modules/.bin/json-server" ]; then
    taskset -c 0 "$work/js/node_modules/.bin/json-server" --quiet --port 18085 "$work/js/db.json" >"$work/js.log" 2>&1 &
    js_pid=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:18085/documents/$id" >/dev/null && break; sleep 0.2; done
    run_wrk "json-server GET one document" "http://127.0.0.1:18085/documents/$id"
    run_wrk "json-server GET list ?key= (10k docs)" "http://127.0.0.1:18085/documents?key=k5000"
    kill $js_pid; wait $js_pid 2>/dev/null || true
  fi
fi

mkdir -p "$root/bench/results"
out="$root/bench/results/$(date -u +%Y-%m-%dT%H%M%SZ).txt"
{
  echo "date: $(date -u +%FT%TZ)  host: $(nproc) cores  wrk -t1 -c50 -d${secs}s, server on CPU 0, wrk on CPU 1"
  printf '%-52s %12s %10s %10s %8s %8s\n' case req/s p50 p99 non-2xx ratio
  base=""
  for r in "${results[@]}"; do
    IFS='|' read -r name rps p50 p99 errors <<<"$r"
    case "$name" in nginx*) base=$rps; ratio=1.00 ;;
      json-server*) ratio=-; [[ $name == *document* ]] && js_doc=$rps || js_list=$rps ;;
      *) ratio=$(awk -v a="$rps" -v b="$base" 'BEGIN { printf "%.2f", a / b }') ;; esac
    printf '%-52s %12s %10s %10s %8s %8s\n' "$name" "$rps" "$p50" "$p99" "$errors" "$ratio"
  done
  echo "sensed RSS (all plugins): idle ${rss_idle} kB, after the read cases ${rss_load} kB, with 100k documents ${rss_100k} kB"
  for r in "${results[@]}"; do
    IFS='|' read -r name rps _ <<<"$r"
    case "$name" in "sensed GET one document"*) s_doc=$rps ;; "sensed GET list ?key= (indexed, 10k"*) s_list=$rps ;; esac
  done
  [ -n "${js_doc:-}" ] && awk -v a="$s_doc" -v b="$js_doc" -v c="$s_list" -v d="$js_list" \
    'BEGIN { printf "sensed / json-server: one document %.1fx, list %.1fx\n", a / b, c / d }'
} | tee "$out"
echo "written to $out"

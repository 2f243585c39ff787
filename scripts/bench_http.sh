#!/usr/bin/env bash
# HTTP load benchmark of an authenticated read endpoint of `skeet serve` (release build),
# with wrk on loopback. Usage:
#   scripts/bench_http.sh [sqlite|postgres] [connections] [seconds]
# PostgreSQL: a fresh database is created on $SKEET_TEST_DATABASE_URL's server and dropped.
set -euo pipefail
engine=${1:-sqlite}
conns=${2:-64}
secs=${3:-20}
bin=${SKEET_BIN:-target/release/skeet}
dir=$(mktemp -d)
port=18181
admin=${SKEET_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
db=""
if [ "$engine" = postgres ]; then
  db="skeet_bench_$$"
  psql "$admin" -qc "CREATE DATABASE $db"
  export DATABASE_URL="${admin%/*}/$db"
else
  unset DATABASE_URL || true
fi
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [ -n "$db" ] && psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"
  rm -rf "$dir"
}
"$bin" --data-dir "$dir" serve --listen 127.0.0.1:$port >"$dir/out" 2>"$dir/err" &
pid=$!
trap cleanup EXIT
for _ in $(seq 100); do grep -q '^database:' "$dir/out" 2>/dev/null && break; sleep 0.1; done
login=$(sed -n 's/^demo login: //p' "$dir/out")
email=${login% / *}; password=${login#* / }
token=$(curl -s 127.0.0.1:$port/api/auth/login -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"$password\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
ws=$(curl -s 127.0.0.1:$port/api/me -H "Authorization: Bearer $token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["workspaces"][0]["workspace_id"])')
path="/api/workspaces/$ws/datasets"
echo "engine=$engine connections=$conns duration=${secs}s endpoint=GET $path (bearer session)"
curl -s -o /dev/null -w 'one request: %{http_code} in %{time_total}s\n' "127.0.0.1:$port$path" -H "Authorization: Bearer $token"
wrk -t2 -c"$conns" -d"${secs}s" --latency -H "Authorization: Bearer $token" "http://127.0.0.1:$port$path"

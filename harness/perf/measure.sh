#!/usr/bin/env bash
# One server under one load tool, measured the ways a shared machine disturbs
# least: the server's CPU time per request (utime + stime from /proc over the
# run, over the requests served), its context switches per request, the load
# tool's CPU time per request, and optionally perf counts (system calls,
# allocations) per request or a perf profile. docs/performance.md shows it in use.
#
# usage: harness/perf/measure.sh OVERLAP_BIN SERVER TOOL [SERVER FLAGS...]
#   SERVER  async | coro | pool (its default mode, leader, unless SERVER FLAGS name
#           another with --pool-mode) | nginx (one worker, `return 200 "Hello, World!"`) |
#           floor (overlap-floor, harness/perf/floor.c; --no-date for an
#           overlap whose responses carry no Date)
#   TOOL    wrk | overlap (overlap load)
# env: WORKLOAD (workloads/seed.ini), URL_PATH (/plaintext), CONNS (64),
#      DURATION (3s), WARMUP (1s of wrk before the measured run; 0 for none),
#      PIPELINE (1: wrk's requests per write, through harness/perf/pipeline.lua),
#      SERVER_CPU (0), LOAD_CPU (1),
#      EVENTS  perf events counted over the run, e.g.
#              raw_syscalls:sys_enter,syscalls:sys_enter_epoll_ctl
#      PROFILE a file: `perf record -g` of the server over the run
# Prints one line: rps, requests, server us/req, context switches/req,
# load us/req, then each perf event per request.
set -euo pipefail

bin=$(realpath "$1")
server=$2
tool=$3
shift 3
src=$(cd "$(dirname "$0")/../.." && pwd)
workload=${WORKLOAD:-$src/workloads/seed.ini}
path=${URL_PATH:-/plaintext}
conns=${CONNS:-64}
duration=${DURATION:-3s}
warmup=${WARMUP:-1s}
server_cpu=${SERVER_CPU:-0}
load_cpu=${LOAD_CPU:-1}
depth=${PIPELINE:-1}

name=measure
# shellcheck source=harness/perf/servers.sh
. "$src/harness/perf/servers.sh"

if [ "$server" = nginx ]; then
    start_nginx "$tmp/nginx.log"
elif [ "$server" = floor ]; then
    start_floor "$tmp/floor.log" "$bin" "$@"
else
    start_overlap "$tmp/db.log" taskset -c "$load_cpu" "$bin" db --workload "$workload" \
        --listen "unix:$tmp/db.sock"
    start_overlap "$tmp/server.log" "$bin" serve --engine "$server" --workload "$workload" \
        --db "unix:$tmp/db.sock" --listen 127.0.0.1:0 --cpus "$server_cpu" "$@"
fi
spid=$last

switches() { cat /proc/"$spid"/task/*/status | awk '/ctxt_switches/ { s += $2 } END { print s }'; }

if [ "$warmup" != 0 ]; then
    taskset -c "$load_cpu" wrk -t1 -c"$conns" -d"$warmup" "http://$addr$path" >/dev/null 2>&1 || true
    sleep 1 # requests still in flight finish before the count starts
fi
t0=$(cpu_ticks "$spid")
s0=$(switches)
[ -n "${EVENTS:-}" ] && { perf stat -x, -e "$EVENTS" -p "$spid" -o "$tmp/stat" & perfpid=$!; }
[ -n "${PROFILE:-}" ] && { perf record -F 2000 -g -p "$spid" -o "$PROFILE" >/dev/null 2>&1 & perfpid=$!; }
sleep 0.2 # perf attached
# The tool runs in a shell that writes its children's CPU time once it ends.
if [ "$tool" = wrk ]; then
    # A script's request() runs per batch, so a depth of 1 goes without it.
    script=()
    [ "$depth" -gt 1 ] && script=(-s "$src/harness/perf/pipeline.lua")
    TICKS_FILE=$tmp/load.ticks run_timed taskset -c "$load_cpu" wrk -t1 -c"$conns" -d"$duration" \
        "${script[@]}" "http://$addr$path" -- "$depth" >"$tmp/load.txt" 2>&1
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/load.txt")
    reqs=$(awk '/ requests in / { print $1 }' "$tmp/load.txt")
else
    TICKS_FILE=$tmp/load.ticks run_timed "$bin" load --target "$addr" --path "$path" \
        --clients "$conns" --duration "$duration" --cpus "$load_cpu" --csv "$tmp/load.csv" \
        >"$tmp/load.txt" 2>&1
    col() { awk -F, -v name="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i }
                                   NR == 2 { print $c }' "$tmp/load.csv"; }
    rps=$(col throughput_rps)
    reqs=$(col requests)
fi
t1=$(cpu_ticks "$spid")
s1=$(switches)
events=""
if [ -n "${perfpid:-}" ]; then
    kill -INT "$perfpid"
    wait "$perfpid" 2>/dev/null || true
fi
if [ -n "${EVENTS:-}" ]; then
    events=$(awk -F, -v n="$reqs" '$1 ~ /^[0-9]/ { e = $3; sub(/^syscalls:sys_enter_/, "", e)
                                                 printf " %s=%.3f", e, $1 / n }' "$tmp/stat")
fi
awk -v s="$server" -v t="$tool" -v rps="$rps" -v n="$reqs" -v c=$((t1 - t0)) -v x=$((s1 - s0)) \
    -v l="$(cat "$tmp/load.ticks")" -v hz="$(getconf CLK_TCK)" -v ev="$events" \
    'BEGIN { printf "%-6s %-7s rps=%.0f requests=%d server_us/req=%.2f switches/req=%.3f load_us/req=%.2f%s\n",
             s, t, rps, n, c * 1e6 / hz / n, x / n, l * 1e6 / hz / n, ev }'

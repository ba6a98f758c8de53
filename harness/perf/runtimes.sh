#!/usr/bin/env bash
# `make bench-runtimes`: what each runtime costs, beside overlap's C event
# loop and the floor (the least an epoll server does per request):
#   - server CPU per /plaintext request at an open-loop rate every runtime
#     holds (RATE, default 2000/s), its whole process tree's, best of ROUNDS
#     (default 5) rounds with the order rotated each round;
#   - RSS per idle keep-alive connection: IDLE connections (default 10000)
#     each answered once, then idle, the tree's RSS against before.
# Writes runtimes.csv (every round) and summary.txt into OUT.
#
# usage: harness/perf/runtimes.sh OVERLAP_BIN [OUT]
set -euo pipefail

bin=$(realpath "$1")
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${2:-$src/results/runtimes-cost-$(date -u +%Y%m%dT%H%M%SZ)}
rounds=${ROUNDS:-5}
rate=${RATE:-2000}
idle=${IDLE:-10000}
duration=${DURATION:-3s}
server_cpu=${SERVER_CPU:-0}
load_cpu=${LOAD_CPU:-1}
engines=(${ENGINES:-floor async ext:python-asyncio ext:python-uvloop ext:python-threads ext:go ext:node})

[ -d "$out" ] && { echo "bench-runtimes: $out exists; results are never overwritten" >&2; exit 1; }
mkdir -p "$out/logs"
name=bench-runtimes
. "$src/harness/perf/servers.sh"
hz=$(getconf CLK_TCK)
wl=$src/workloads/seed.ini

# The process $1 and its descendants, one PID a line.
tree() {
    local p c
    echo "$1"
    for p in /proc/"$1"/task/*/children; do
        for c in $(cat "$p" 2>/dev/null); do tree "$c"; done
    done
}

# Sums a /proc/PID/stat field expression over the tree of $1.
tree_sum() {
    local total=0 p v
    for p in $(tree "$1"); do
        v=$(awk "{ print $2 }" "/proc/$p/$3" 2>/dev/null || echo 0)
        total=$((total + ${v:-0}))
    done
    echo "$total"
}
tree_ticks() { tree_sum "$1" '$14 + $15' stat; }
tree_rss() { tree_sum "$1" '$2 * 4' statm; } # KiB, 4 KiB pages
tree_fds() {
    local total=0 p
    for p in $(tree "$1"); do total=$((total + $(ls "/proc/$p/fd" 2>/dev/null | wc -l))); done
    echo "$total"
}

start_engine() {
    case $1 in
    floor) start_floor "$out/logs/floor.log" "$bin" ;;
    async) start_overlap "$out/logs/async.log" "$bin" serve --engine async --loops 1 \
        --workload "$wl" --db "$db_addr" --listen 127.0.0.1:0 --cpus "$server_cpu" ;;
    ext:*) start_overlap "$out/logs/${1#ext:}.log" "$bin" engine run "${1#ext:}" \
        --workload "$wl" --db "$db_addr" --cpus "$server_cpu" ;;
    esac
}

# CPU per request (us) of the engine started last, at the open-loop rate.
cpu_per_request() {
    local t0 t1 reqs
    "$bin" load --target "$addr" --path /plaintext --rate 500 --clients 16 --duration 1s \
        --cpus "$load_cpu" >/dev/null 2>&1 || true # warm: caches, JIT, pools
    rm -f "$tmp/load.csv"
    t0=$(tree_ticks "$last")
    "$bin" load --target "$addr" --path /plaintext --rate "$rate" --clients 64 \
        --duration "$duration" --cpus "$load_cpu" --csv "$tmp/load.csv" >>"$out/logs/load.log" 2>&1
    t1=$(tree_ticks "$last")
    reqs=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "requests") c = i }
                    NR == 2 { print $c }' "$tmp/load.csv")
    awk -v t=$((t1 - t0)) -v n="$reqs" -v hz="$hz" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }'
}

# KiB per idle keep-alive connection of the engine started last.
rss_per_connection() {
    local before after fds0 load waited=0
    before=$(tree_rss "$last")
    fds0=$(tree_fds "$last")
    "$bin" load --target "$addr" --path /plaintext --clients "$idle" --think 'fixed 120s' \
        --duration 60s --timeout 60s --cpus "$load_cpu" >>"$out/logs/load.log" 2>&1 &
    load=$!
    while [ "$(tree_fds "$last")" -lt $((fds0 + idle)) ] && [ $waited -lt 60 ]; do
        sleep 1
        waited=$((waited + 1))
    done
    sleep 1
    after=$(tree_rss "$last")
    local held=$(($(tree_fds "$last") - fds0))
    kill "$load" 2>/dev/null || true
    wait "$load" 2>/dev/null || true
    awk -v b="$before" -v a="$after" -v n="$held" 'BEGIN { printf "%.2f,%d", (a - b) / n, n }'
}

start_overlap "$out/logs/db.log" "$bin" db --workload "$wl"
db_addr=$addr
echo "round,engine,cpu_us_per_request,rss_kib_per_idle_connection,idle_connections_held" \
    >"$out/runtimes.csv"
n=${#engines[@]}
for round in $(seq "$rounds"); do
    for i in $(seq 0 $((n - 1))); do
        engine=${engines[$(((round - 1 + i) % n))]}
        start_engine "$engine"
        cpu=$(cpu_per_request)
        rss=,
        # the memory once, in the first round: 10,000 connections take a while
        [ "$round" = 1 ] && [ "$engine" != floor ] && rss=$(rss_per_connection)
        echo "$round,$engine,$cpu,$rss" >>"$out/runtimes.csv"
        printf '[round %d] %-20s %8s us/request  %s KiB per idle connection\n' "$round" "$engine" \
            "$cpu" "${rss%,*}" >&2
        stop "$last"
    done
done

awk -F, 'NR > 1 { if (!($2 in best) || $3 < best[$2]) best[$2] = $3; if ($4 != "") rss[$2] = $4 " (" $5 " held)"; order[$2] = NR }
         END { printf "%-20s %18s %28s\n", "engine", "cpu us/req (best)", "KiB per idle connection";
               for (e in best) printf "%-20s %18.1f %28s\n", e, best[e], (e in rss) ? rss[e] : "-" }' \
    "$out/runtimes.csv" | tee "$out/summary.txt"
echo "bench-runtimes: results in $out" >&2

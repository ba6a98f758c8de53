#!/usr/bin/env bash
# `make bench-runtimes`: what each runtime costs, beside overlap's C event
# loop and the floor (the least an epoll server does per request):
#   - server CPU per /plaintext request at an open-loop rate every runtime
#     holds (RATE, default 2000/s), its whole process tree's, best of ROUNDS
#     (default 5) rounds with the order rotated each round;
#   - RSS per idle keep-alive connection: IDLE connections (default 10000)
#     each answered once, then idle, the tree's RSS growth over the second
#     half of them (servers.sh's idle_rss), and the fixed part beside.
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

start_overlap "$out/logs/db.log" "$bin" db --workload "$wl"
db_addr=$addr
echo "round,engine,cpu_us_per_request,rss_kib_per_idle_connection,idle_connections_held,fixed_kib" \
    >"$out/runtimes.csv"
n=${#engines[@]}
for round in $(seq "$rounds"); do
    for i in $(seq 0 $((n - 1))); do
        engine=${engines[$(((round - 1 + i) % n))]}
        start_engine "$engine"
        cpu=$(cpu_per_request)
        rss=,,
        # the memory once, in the first round: 10,000 connections take a while
        [ "$round" = 1 ] && [ "$engine" != floor ] && rss=$(idle_rss "$bin" "$last" "$addr" "$idle" "$load_cpu" "$out/logs/load.log")
        echo "$round,$engine,$cpu,$rss" >>"$out/runtimes.csv"
        printf '[round %d] %-20s %8s us/request  %s KiB per idle connection\n' "$round" "$engine" \
            "$cpu" "${rss%%,*}" >&2
        stop "$last"
    done
done

awk -F, 'NR > 1 { if (!($2 in best) || $3 < best[$2]) best[$2] = $3; if ($4 != "") rss[$2] = $4 " (" $5 " held)"; order[$2] = NR }
         END { printf "%-20s %18s %28s\n", "engine", "cpu us/req (best)", "KiB per idle connection";
               for (e in best) printf "%-20s %18.1f %28s\n", e, best[e], (e in rss) ? rss[e] : "-" }' \
    "$out/runtimes.csv" | tee "$out/summary.txt"
echo "bench-runtimes: results in $out" >&2

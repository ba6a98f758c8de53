#!/usr/bin/env bash
# `make bench-peers`: /plaintext where the server, not the load tool, is the
# limit. Each server (the overlap-floor responder, nginx with one worker,
# async with one loop, the pool configs below) is pinned to one CPU and the
# load to the other, and measured two ways:
#   peak  wrk, one thread, CONNS connections, DEPTH requests per write
#         (pipelined, as TechEmpower's plaintext test): the most it serves;
#   cpu   overlap load, open loop at RATE req/s, below every server's
#         capacity: the server's CPU time (utime + stime from /proc/PID/stat
#         over the run) per request served.
# A shared machine only adds work, so each figure is a server's best over
# ROUNDS rounds (the highest peak, the lowest CPU per request), the servers'
# order rotating every round. The load tool's own CPU is recorded too, and a
# peak that is the tool's, not the server's, is flagged. Writes peers.csv,
# summary.csv, ratios.txt and peers.png/.svg into results/peers-<UTC time>/.
#
# usage: harness/peers.sh OVERLAP_BIN [OUT_DIR]
# env:   ROUNDS (5), DURATION (3s), WARMUP (1s), CONNS (64), DEPTH (16),
#        RATE (30000), SERVER_CPU (0), LOAD_CPU (1)
set -euo pipefail

bin=$(realpath "$1")
src=$(cd "$(dirname "$0")/.." && pwd)
out=${2:-$src/results/peers-$(date -u +%Y%m%dT%H%M%SZ)}
rounds=${ROUNDS:-5}
duration=${DURATION:-3s}
warmup=${WARMUP:-1s}
conns=${CONNS:-64}
depth=${DEPTH:-16}
rate=${RATE:-30000}
server_cpu=${SERVER_CPU:-0}
load_cpu=${LOAD_CPU:-1}

# overlap's engines measured beside async, one a line: a name, then the flags
# of `overlap serve`. Pool modes are explicit so that a new default does not
# change what a figure means; a new config is one more line. A name starting
# with `pool` is held to the pool's goals against async, one with `coro` to
# its CPU per request against async's.
overlap_configs=(
    "coro:--engine coro --loops 1"
    "uring:--engine uring --loops 1"
    "pool-leader:--engine pool --workers 4 --pool-mode leader"
    "pool-request:--engine pool --workers 4 --pool-mode request"
)

for tool in wrk nginx gnuplot taskset; do
    command -v "$tool" >/dev/null || { echo "bench-peers: $tool is missing (make bench-peers installs it)" >&2; exit 1; }
done
[ -d "$out" ] && { echo "bench-peers: $out exists; results are never overwritten" >&2; exit 1; }
mkdir -p "$out/logs"
name=bench-peers
# shellcheck source=harness/perf/servers.sh
. "$src/harness/perf/servers.sh"
hz=$(getconf CLK_TCK)

servers=(floor nginx async)
for config in "${overlap_configs[@]}"; do servers+=("${config%%:*}"); done

start_db() {
    start_overlap "$out/logs/db.log" "$bin" db --workload "$src/workloads/seed.ini"
    db_addr=$addr
}

# start_server NAME: starts it pinned to server_cpu; sets addr and last.
start_server() {
    local config flags
    case $1 in
    floor) start_floor "$out/logs/floor.log" "$bin" "${floor_flags[@]}" ;;
    nginx) start_nginx "$out/logs/nginx.log" ;;
    async) start_overlap "$out/logs/async.log" "$bin" serve --engine async --loops 1 \
        --workload "$src/workloads/seed.ini" --db "$db_addr" --listen 127.0.0.1:0 --cpus "$server_cpu" ;;
    *)
        for config in "${overlap_configs[@]}"; do [ "${config%%:*}" = "$1" ] && flags=${config#*:}; done
        # shellcheck disable=SC2086 # the config's flags split into words
        start_overlap "$out/logs/$1.log" "$bin" serve $flags \
            --workload "$src/workloads/seed.ini" --db "$db_addr" --listen 127.0.0.1:0 --cpus "$server_cpu" ;;
    esac
}

# column FILE NAME: NAME's value in the one row of an `overlap load` CSV.
column() {
    awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i }
                          NR == 2 && c { print $c }' "$1"
}

# measure KIND TAG against $addr, the server being PID $last. Prints
# `rps,requests,server_us_per_request,load_us_per_request,server_util,load_util`
# (utilisations: CPU time over wall time), or nothing when the tool failed.
measure() {
    local kind=$1 tag=$2 rps reqs t0 t1 w0 w1
    t0=$(cpu_ticks "$last")
    w0=$(date +%s%N)
    if [ "$kind" = peak ]; then
        TICKS_FILE=$tmp/load.ticks run_timed taskset -c "$load_cpu" wrk -t1 -c"$conns" -d"$duration" \
            -s "$src/harness/perf/pipeline.lua" "http://$addr/plaintext" -- "$depth" \
            >"$out/logs/$tag.log" 2>&1
        rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out/logs/$tag.log")
        reqs=$(awk '/ requests in / { print $1 }' "$out/logs/$tag.log")
    else
        rm -f "$tmp/load.csv"
        TICKS_FILE=$tmp/load.ticks run_timed "$bin" load --target "$addr" --path /plaintext \
            --rate "$rate" --clients "$conns" --duration "$duration" --cpus "$load_cpu" \
            --csv "$tmp/load.csv" >"$out/logs/$tag.log" 2>&1
        rps=$(column "$tmp/load.csv" throughput_rps 2>/dev/null || true)
        reqs=$(column "$tmp/load.csv" requests 2>/dev/null || true)
    fi
    w1=$(date +%s%N)
    t1=$(cpu_ticks "$last")
    [ -n "$rps" ] && [ -n "$reqs" ] && [ "$reqs" -gt 0 ] || return 0
    awk -v rps="$rps" -v n="$reqs" -v s=$((t1 - t0)) -v l="$(cat "$tmp/load.ticks")" -v hz="$hz" \
        -v wall=$((w1 - w0)) 'BEGIN { printf "%.0f,%d,%.3f,%.3f,%.3f,%.3f\n", rps, n,
            s * 1e6 / hz / n, l * 1e6 / hz / n, s / hz / (wall / 1e9), l / hz / (wall / 1e9) }'
}

# get_twice FILE: the bytes $addr sends back for two pipelined /plaintext
# requests, the second split across two writes, collected for half a second.
get_twice() {
    local port=${addr##*:}
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    printf 'GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\nGET /plaintext HT' >&3
    sleep 0.1
    printf 'TP/1.1\r\nHost: a\r\n\r\n' >&3
    timeout 0.5 cat <&3 >"$1" || true
    exec 3<&-
}

# The floor must send what async sends (the Date's value aside), or its CPU
# per request is not the same work's: it leaves its Date field out when
# async sends none. A floor that does not answer both requests stops the
# run; a response that still differs is reported in ratios.txt.
smoke_check() {
    start_server async
    get_twice "$out/logs/async.http"
    stop "$last"
    floor_flags=()
    grep -q '^Date: ' "$out/logs/async.http" || floor_flags=(--no-date)
    start_server floor
    get_twice "$out/logs/floor.http"
    stop "$last"
    [ "$(grep -o 'Hello, World!' "$out/logs/floor.http" | wc -l)" = 2 ] ||
        { echo "bench-peers: overlap-floor did not answer two pipelined requests" >&2; exit 1; }
    if cmp -s <(sed 's/^Date: .*\r$/Date:\r/' "$out/logs/floor.http") \
        <(sed 's/^Date: .*\r$/Date:\r/' "$out/logs/async.http"); then
        smoke="the floor sends async's /plaintext response, byte for byte but the Date value"
        smoke+=" ($(($(wc -c <"$out/logs/floor.http") / 2)) bytes${floor_flags[*]:+, no Date field})"
    else
        smoke="WARNING: the floor's /plaintext response differs from async's (logs/*.http):"
        smoke+=" its CPU per request is not the same work's"
    fi
    echo "bench-peers: $smoke" >&2
}

start_db
smoke_check
echo "round,server,measure,rps,requests,server_us_per_request,load_us_per_request,server_cpu_util,load_cpu_util" \
    >"$out/peers.csv"
# Each round starts with the next server and flips the two measures' order,
# so that no server or measure always runs first or last while the machine
# drifts. A warm-up (wrk, pipelined, not counted) brings each fresh server to
# its steady state before either measure.
n=${#servers[@]}
for round in $(seq "$rounds"); do
    for i in $(seq 0 $((n - 1))); do
        server=${servers[$(((round - 1 + i) % n))]}
        start_server "$server"
        taskset -c "$load_cpu" wrk -t1 -c"$conns" -d"$warmup" -s "$src/harness/perf/pipeline.lua" \
            "http://$addr/plaintext" -- "$depth" >/dev/null 2>&1 || true
        kinds="peak cpu"
        [ $((round % 2)) = 0 ] && kinds="cpu peak"
        for kind in $kinds; do
            row=$(measure "$kind" "$round-$server-$kind")
            [ -n "$row" ] || { echo "bench-peers: no figure for $server ($kind, see $out/logs)" >&2; exit 1; }
            echo "$round,$server,$kind,$row" >>"$out/peers.csv"
            IFS=, read -r rps _ scpu lcpu sutil lutil <<<"$row"
            printf '[round %d] %-13s %-4s %9.0f req/s  server %6.3f us/req (%3.0f%% of its CPU)  load %6.3f us/req (%3.0f%%)\n' \
                "$round" "$server" "$kind" "$rps" "$scpu" "$(awk -v u="$sutil" 'BEGIN { print u * 100 }')" \
                "$lcpu" "$(awk -v u="$lutil" 'BEGIN { print u * 100 }')" >&2
        done
        stop "$last"
    done
done

awk -F, -v summary="$out/summary.csv" -v servers="${servers[*]}" -v rate="$rate" -v depth="$depth" \
    -v conns="$conns" -v rounds="$rounds" -v smoke="$smoke" -f "$src/harness/perf/peers-summary.awk" \
    "$out/peers.csv" | tee "$out/ratios.txt"

gnuplot -e "dir='$out'; depth=$depth" "$src/plots/peers.gp"
echo "bench-peers: results in $out" >&2

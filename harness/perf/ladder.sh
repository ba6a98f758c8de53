#!/usr/bin/env bash
# `make bench-uring`: io_uring's ladder against epoll on /plaintext, where
# the server is the limit. For each connection count of CONNS, each config
# of CONFIGS (async, then uring's four steps: poll, ops, multishot, defer)
# is started alone with one loop, pinned to SERVER_CPU, the load on
# LOAD_CPU, and measured two ways:
#   peak  wrk, one thread, N connections, one request at a time on each:
#         the most it serves with N connections;
#   rate  overlap load, open loop, N connections, at 0.9 of the lowest
#         peak any config reached at N this round (one rate for all, so
#         their costs compare): the server's CPU per request (utime + stime
#         over the requests), its system calls per request (perf stat's
#         raw_syscalls:sys_enter on the server's threads), and its p99.
# Then, once per config, the RSS per idle keep-alive connection with IDLE of
# them held (the growth over the second half: servers.sh's idle_rss). A
# shared machine only adds work, so a cost is a config's best over ROUNDS
# rounds (lowest CPU, fewest calls, highest peak) with the spread beside
# it, and p99 the median; the configs' order rotates every round. Writes
# ladder.csv (every measurement), rss.csv and summary.txt.
#
# usage: harness/perf/ladder.sh OVERLAP_BIN [OUT_DIR]
# env:   ROUNDS (3), DURATION (3s), CONNS ("1 10 100 1000"), IDLE (10000),
#        SERVER_CPU (0), LOAD_CPU (1), CONFIGS (the five steps)
set -euo pipefail

bin=$(realpath "$1")
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${2:-$src/results/ladder-$(date -u +%Y%m%dT%H%M%SZ)}
rounds=${ROUNDS:-3}
duration=${DURATION:-3s}
read -r -a conns_list <<<"${CONNS:-1 10 100 1000}"
idle=${IDLE:-10000}
server_cpu=${SERVER_CPU:-0}
load_cpu=${LOAD_CPU:-1}
read -r -a configs <<<"${CONFIGS:-async uring:poll uring:ops uring:multishot uring:defer}"

for tool in wrk perf taskset; do
    command -v "$tool" >/dev/null || { echo "bench-uring: $tool is missing (make bench-uring installs it)" >&2; exit 1; }
done
[ -d "$out" ] && { echo "bench-uring: $out exists; results are never overwritten" >&2; exit 1; }
mkdir -p "$out/logs"
name=bench-uring # servers.sh's messages' prefix
# shellcheck source=harness/perf/servers.sh
. "$src/harness/perf/servers.sh"
hz=$(getconf CLK_TCK)
wl=$src/workloads/seed.ini

start_overlap "$out/logs/db.log" taskset -c "$load_cpu" "$bin" db --workload "$wl" \
    --listen "unix:$tmp/db.sock"

# start_config CONFIG: async, or uring:MODE. Sets addr and last.
start_config() {
    local flags=(--engine async)
    [ "${1%%:*}" = uring ] && flags=(--engine uring --uring-mode "${1#uring:}")
    start_overlap "$out/logs/${1/:/-}.log" "$bin" serve "${flags[@]}" --loops 1 --workload "$wl" \
        --db "unix:$tmp/db.sock" --listen 127.0.0.1:0 --cpus "$server_cpu"
}

# peak N TAG: wrk's requests/s with N connections against $addr.
peak() {
    taskset -c "$load_cpu" wrk -t1 -c"$1" -d1s "http://$addr/plaintext" >/dev/null 2>&1 || true
    taskset -c "$load_cpu" wrk -t1 -c"$1" -d"$duration" "http://$addr/plaintext" \
        >"$out/logs/$2.log" 2>&1 || true
    awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out/logs/$2.log"
}

# at_rate N RATE TAG: `cpu_us,syscalls,p99_ms,requests` per request of the
# server $last at RATE with N connections, or nothing when the load failed.
at_rate() {
    local t0 t1 perf reqs calls
    rm -f "$tmp/load.csv" "$tmp/perf.txt"
    perf stat -e raw_syscalls:sys_enter -p "$last" -x, -o "$tmp/perf.txt" 2>/dev/null &
    perf=$!
    sleep 0.2
    t0=$(cpu_ticks "$last")
    "$bin" load --target "$addr" --path /plaintext --rate "$2" --clients "$1" \
        --duration "$duration" --cpus "$load_cpu" --csv "$tmp/load.csv" >"$out/logs/$3.log" 2>&1 || true
    t1=$(cpu_ticks "$last")
    kill -INT "$perf" 2>/dev/null || true
    wait "$perf" 2>/dev/null || true
    [ -s "$tmp/load.csv" ] || return 0
    reqs=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "requests") c = i } NR == 2 { print $c }' "$tmp/load.csv")
    local p99
    p99=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "p99_ms") c = i } NR == 2 { print $c }' "$tmp/load.csv")
    calls=$(awk -F, '/raw_syscalls:sys_enter/ { print $1 }' "$tmp/perf.txt" 2>/dev/null)
    [ -n "$reqs" ] && [ "$reqs" -gt 0 ] || return 0
    awk -v t=$((t1 - t0)) -v n="$reqs" -v hz="$hz" -v calls="${calls:-nan}" -v p99="$p99" \
        'BEGIN { printf "%.2f,%s,%.3f,%d", t * 1e6 / hz / n, calls == "nan" || calls ~ /not/ ? "" : sprintf("%.2f", calls / n), p99, n }'
}

echo "round,connections,config,peak_rps,rate,cpu_us_per_request,syscalls_per_request,p99_ms,requests" \
    >"$out/ladder.csv"
n=${#configs[@]}
for round in $(seq "$rounds"); do
    for conns in "${conns_list[@]}"; do
        declare -A peaks=()
        lowest=
        for i in $(seq 0 $((n - 1))); do
            config=${configs[$(((round - 1 + i) % n))]}
            start_config "$config"
            peaks[$config]=$(peak "$conns" "peak-$round-$conns-${config/:/-}")
            stop "$last"
            [ -n "${peaks[$config]}" ] || continue
            [ -z "$lowest" ] || [ "${peaks[$config]}" -lt "$lowest" ] && lowest=${peaks[$config]}
        done
        rate=$(awk -v p="${lowest:-0}" 'BEGIN { printf "%.0f", 0.9 * p }')
        for i in $(seq 0 $((n - 1))); do
            config=${configs[$(((round - 1 + i) % n))]}
            start_config "$config"
            line=$(at_rate "$conns" "$rate" "rate-$round-$conns-${config/:/-}")
            stop "$last"
            echo "$round,$conns,$config,${peaks[$config]},$rate,${line:-,,,}" >>"$out/ladder.csv"
            printf '[round %d] %4d connections %-16s peak %7s req/s; at %s req/s: %s\n' "$round" \
                "$conns" "$config" "${peaks[$config]}" "$rate" "${line:-failed}" >&2
        done
        unset peaks
    done
done

echo "config,kib_per_idle_connection,idle_connections_held,fixed_kib" >"$out/rss.csv"
for config in "${configs[@]}"; do
    start_config "$config"
    echo "$config,$(idle_rss "$bin" "$last" "$addr" "$idle" "$load_cpu" "$out/logs/idle.log")" >>"$out/rss.csv"
    stop "$last"
done

# Per connection count and config: the best peak, CPU and calls over the
# rounds (with the worst beside), the median p99, and the CPU against
# async's best.
awk -F, -v configs="${configs[*]}" '
    FNR == 1 { next }
    FILENAME ~ /rss.csv$/ { rss[$1] = $2; next }
    {
        k = $2 SUBSEP $3; seen[$2] = 1; cnt[k]++
        if (!(k in peak) || $4 > peak[k]) peak[k] = $4
        if ($6 != "" && (!(k in cpu) || $6 < cpu[k])) cpu[k] = $6
        if ($6 != "" && (!(k in cpuw) || $6 > cpuw[k])) cpuw[k] = $6
        if ($7 != "" && (!(k in sys) || $7 < sys[k])) sys[k] = $7
        p99[k, cnt[k]] = $8; rate[k] = $5
    }
    function median(k,    n, i, j, t, v) {
        n = cnt[k]; for (i = 1; i <= n; i++) v[i] = p99[k, i]
        for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j] + 0 < v[j - 1] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
        return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    END {
        nc = split(configs, c, " ")
        printf "%5s  %-16s %9s %16s %7s %10s %9s %12s\n", "conns", "config", "peak/s", "cpu us/req", "x async", "calls/req", "p99 ms", "KiB/idle conn"
        for (conn in seen) order[++no] = conn + 0
        for (i = 2; i <= no; i++) for (j = i; j > 1 && order[j] < order[j - 1]; j--) { t = order[j]; order[j] = order[j - 1]; order[j - 1] = t }
        for (o = 1; o <= no; o++) {
            conn = order[o]
            for (i = 1; i <= nc; i++) {
                k = conn SUBSEP c[i]
                if (!(k in cnt)) continue
                base = (conn SUBSEP "async") in cpu ? cpu[conn, "async"] : ""
                printf "%5d  %-16s %9d %7.2f (%6.2f) %7s %10s %9.2f %12s\n", conn, c[i], peak[k],
                    cpu[k], cpuw[k], base != "" ? sprintf("%.3f", cpu[k] / base) : "-",
                    (k in sys) ? sys[k] : "-", median(k), (c[i] in rss) ? rss[c[i]] : "-"
            }
        }
        printf "\npeak: highest over the rounds; cpu: best (worst), server CPU per request at 0.9 of the lowest peak at that connection count; calls: fewest system calls per request; p99: median of the rounds\n"
    }' "$out/rss.csv" "$out/ladder.csv" | tee "$out/summary.txt"
echo "bench-uring: results in $out" >&2

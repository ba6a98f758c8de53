#!/usr/bin/env bash
# The CPU and throughput figures of coro/README.md, coro beside async in the
# same run: server CPU per /plaintext request at a fixed open-loop rate, and
# the seed workload's CPU per request and closed-loop throughput at 64 and
# 1,024 clients. The server (one loop) is pinned to one CPU and the load
# generator to another; each round rotates which contestant goes first, and
# each figure is the best of its rounds (the least disturbed by whatever else
# the machine runs). Server CPU is utime + stime from /proc/PID/stat over the
# load run.
#
# usage: coro/measure.sh OVERLAP_BIN     (a Release build)
# env:   ROUNDS (3), RATE (30000), DURATION (5s), SERVER_CPU (0), LOAD_CPU (1),
#        UCONTEXT_BIN: a second build (cmake -DOVERLAP_CORO_UCONTEXT=ON) whose
#        coro engine, switching with swapcontext, runs beside as `coro-uc`
set -euo pipefail

bin=$(realpath "$1")
src=$(cd "$(dirname "$0")/.." && pwd)
rounds=${ROUNDS:-3}
rate=${RATE:-30000}
duration=${DURATION:-5s}
server_cpu=${SERVER_CPU:-0}
load_cpu=${LOAD_CPU:-1}
name=coro-measure
# shellcheck source=harness/perf/servers.sh
. "$src/harness/perf/servers.sh"

contestants=(coro async)
[ -n "${UCONTEXT_BIN:-}" ] && contestants+=(coro-uc)

start_overlap "$tmp/db.log" "$bin" db --workload "$src/workloads/seed.ini"
db_addr=$addr

start_contestant() {
    local server=$bin engine=$1
    [ "$1" = coro-uc ] && server=$(realpath "$UCONTEXT_BIN") engine=coro
    start_overlap "$tmp/$1.log" "$server" serve --engine "$engine" --loops 1 \
        --cpus "$server_cpu" --workload "$src/workloads/seed.ini" --db "$db_addr" \
        --listen 127.0.0.1:0
}

# A column of the load CSV's one row, by name.
csv_column() {
    awk -F, -v col="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i }
                          NR == 2 { print $c }' "$1"
}

# load FLAGS...: one run against $addr. Prints `requests rps server_us_per_request`.
load() {
    local t0 t1 reqs
    t0=$(cpu_ticks "$last")
    "$bin" load --target "$addr" --cpus "$load_cpu" --csv "$tmp/load.csv" "$@" >/dev/null 2>&1
    t1=$(cpu_ticks "$last")
    reqs=$(csv_column "$tmp/load.csv" requests)
    awk -v n="$reqs" -v rps="$(csv_column "$tmp/load.csv" throughput_rps)" -v s=$((t1 - t0)) \
        -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%d %.0f %.3f\n", n, rps, s * 1e6 / hz / n }'
}

# keep ARRAY KEY VALUE lower|higher: ARRAY[KEY] becomes VALUE if it is better.
keep() {
    local -n best=$1
    local old=${best[$2]:-}
    if [ -z "$old" ] || awk -v a="$3" -v b="$old" -v w="$4" \
        'BEGIN { exit !(w == "lower" ? a < b : a > b) }'; then
        best[$2]=$3
    fi
}

declare -A plain_us seed_us rps64 rps1024
scheduled=$(awk -v r="$rate" -v d="${duration%s}" 'BEGIN { print r * d }')
k=${#contestants[@]}
for round in $(seq "$rounds"); do
    for i in $(seq 0 $((k - 1))); do
        who=${contestants[$(((round - 1 + i) % k))]}
        start_contestant "$who"
        # No warmup for the CPU figures, so the CPU time is spent on the
        # requests counted; 64 clients reach their steady state in a tenth
        # of a second, 1,024 need a few (their response time is over one).
        read -r n _ us < <(load --path /plaintext --rate "$rate" --clients 64 --duration "$duration")
        read -r _ r64 us64 < <(load --path /home --clients 64 --duration "$duration" --timeout 10s)
        read -r _ r1024 _ < <(load --path /home --clients 1024 --duration "$duration" --warmup 3s \
            --timeout 10s)
        stop "$last"
        printf '[round %d] %-7s /plaintext at %s/s: %d requests, %.3f us of server CPU each; ' \
            "$round" "$who" "$rate" "$n" "$us" >&2
        printf 'seed: %s us each, %s req/s at 64 clients, %s at 1024\n' "$us64" "$r64" "$r1024" >&2
        # A run that fell behind its schedule batched more per wakeup and
        # looks cheaper than it is: its CPU figure does not count.
        if awk -v n="$n" -v want="$scheduled" 'BEGIN { exit !(n >= 0.99 * want) }'; then
            keep plain_us "$who" "$us" lower
        else
            echo "  (behind schedule: $n of $scheduled answered; not counted)" >&2
        fi
        keep seed_us "$who" "$us64" lower
        keep rps64 "$who" "$r64" higher
        keep rps1024 "$who" "$r1024" higher
    done
done

echo "best of $rounds rounds, one loop on CPU $server_cpu, load on CPU $load_cpu:"
echo "             server CPU per request (us)    seed req/s"
echo "             /plaintext   seed /home        64 clients  1024 clients"
for who in "${contestants[@]}"; do
    printf '  %-9s %10s %12.1f %15s %13s\n' "$who" "${plain_us[$who]:-none}" "${seed_us[$who]}" \
        "${rps64[$who]}" "${rps1024[$who]}"
done
awk -v c="${plain_us[coro]:-0}" -v a="${plain_us[async]:-0}" \
    'BEGIN { if (c && a) printf "coro / async CPU per /plaintext request: %.2f (goal <= 1.3)\n", c / a }'

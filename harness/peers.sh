#!/usr/bin/env bash
# `make bench-peers`: /plaintext through the async engine (one loop), the pool
# (request mode) and nginx (one worker), each loaded by `overlap load` and by
# wrk at 64 connections, server pinned to one CPU and load to another. Rounds
# alternate the servers (and rotate their order) so drift on a shared machine
# hits them all alike; the ratios are of medians. Besides req/s, each
# measurement records the CPU time the server and the load tool spent per
# request (utime + stime from /proc over the run, divided by the requests
# served): on a shared machine req/s swings with what else runs, CPU per
# request much less, and on two cores the load tool, not the server, often
# sets the rate. Writes peers.csv, summary.csv, peers.png/.svg and ratios.txt
# into results/peers-<UTC timestamp>/.
#
# usage: harness/peers.sh OVERLAP_BIN [OUT_DIR]
# env:   ROUNDS (3), DURATION (5s), CONNS (64), POOL_WORKERS (2),
#        SERVER_CPU (0), LOAD_CPU (1)
set -euo pipefail

bin=$(realpath "$1")
src=$(cd "$(dirname "$0")/.." && pwd)
out=${2:-$src/results/peers-$(date -u +%Y%m%dT%H%M%SZ)}
rounds=${ROUNDS:-3}
duration=${DURATION:-5s}
conns=${CONNS:-64}
pool_workers=${POOL_WORKERS:-2}
server_cpu=${SERVER_CPU:-0}
load_cpu=${LOAD_CPU:-1}

for tool in wrk nginx gnuplot taskset; do
    command -v "$tool" >/dev/null || { echo "bench-peers: $tool is missing (make bench-peers installs it)" >&2; exit 1; }
done
[ -d "$out" ] && { echo "bench-peers: $out exists; results are never overwritten" >&2; exit 1; }
mkdir -p "$out/logs"
name=bench-peers
# shellcheck source=harness/perf/servers.sh
. "$src/harness/perf/servers.sh"

# One measurement of a load tool against $addr, the server being PID $last.
# Prints `rps,requests,server_us_per_request,load_us_per_request,server_util`.
# Neither tool warms up, so the requests counted are the ones the CPU time
# was spent on.
measure() {
    local tool=$1 tag=$2 rps reqs t0 t1 w0 w1
    t0=$(cpu_ticks "$last")
    w0=$(date +%s%N)
    if [ "$tool" = wrk ]; then
        TICKS_FILE=$tmp/load.ticks run_timed taskset -c "$load_cpu" wrk -t1 -c"$conns" \
            -d"$duration" "http://$addr/plaintext" >"$out/logs/$tag.log" 2>&1
        rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out/logs/$tag.log")
        reqs=$(awk '/ requests in / { print $1 }' "$out/logs/$tag.log")
    else
        TICKS_FILE=$tmp/load.ticks run_timed "$bin" load --target "$addr" --path /plaintext \
            --clients "$conns" --duration "$duration" --threads 1 --cpus "$load_cpu" \
            --csv "$tmp/load.csv" >"$out/logs/$tag.log" 2>&1
        rps=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "throughput_rps") c = i }
                       NR == 2 { print $c }' "$tmp/load.csv")
        reqs=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "requests") c = i }
                        NR == 2 { print $c }' "$tmp/load.csv")
    fi
    w1=$(date +%s%N)
    t1=$(cpu_ticks "$last")
    [ -n "$rps" ] && [ -n "$reqs" ] && [ "$reqs" -gt 0 ] || return 0
    awk -v rps="$rps" -v n="$reqs" -v s=$((t1 - t0)) -v l="$(cat "$tmp/load.ticks")" \
        -v hz="$(getconf CLK_TCK)" -v wall=$((w1 - w0)) \
        'BEGIN { printf "%.0f,%d,%.3f,%.3f,%.3f\n", rps, n, s * 1e6 / hz / n, l * 1e6 / hz / n,
                 s / hz / (wall / 1e9) }'
}

start_db() {
    start_overlap "$out/logs/db.log" "$bin" db --workload "$src/workloads/seed.ini"
    db_addr=$addr
}

start_server() {
    case $1 in
    async) start_overlap "$out/logs/async.log" "$bin" serve --engine async --loops 1 \
        --workload "$src/workloads/seed.ini" --db "$db_addr" --listen 127.0.0.1:0 --cpus "$server_cpu" ;;
    pool) start_overlap "$out/logs/pool.log" "$bin" serve --engine pool --workers "$pool_workers" \
        --workload "$src/workloads/seed.ini" --db "$db_addr" --listen 127.0.0.1:0 --cpus "$server_cpu" ;;
    nginx) start_nginx "$out/logs/nginx.log" ;;
    esac
}

start_db
echo "round,server,tool,rps,requests,server_us_per_request,load_us_per_request,server_cpu_util" \
    >"$out/peers.csv"
# Each round starts with the next server and flips the tools' order, so that
# no server or tool always runs first or last in a round while the machine
# drifts.
servers=(async pool nginx)
for round in $(seq "$rounds"); do
    for i in 0 1 2; do
        server=${servers[$(((round - 1 + i) % 3))]}
        start_server "$server"
        tools="overlap wrk"
        [ $((round % 2)) = 0 ] && tools="wrk overlap"
        for tool in $tools; do
            row=$(measure "$tool" "$round-$server-$tool")
            [ -n "$row" ] || { echo "bench-peers: no figure from $tool against $server (see $out/logs)" >&2; exit 1; }
            echo "$round,$server,$tool,$row" >>"$out/peers.csv"
            IFS=, read -r rps _ scpu lcpu util <<<"$row"
            printf '[round %d] %-6s %-8s %8.0f req/s  server %5.2f us/req (%3.0f%% of its CPU)  load %5.2f us/req\n' \
                "$round" "$server" "$tool" "$rps" "$scpu" "$(awk -v u="$util" 'BEGIN { print u * 100 }')" "$lcpu" >&2
        done
        stop "$last"
    done
done

# Medians per server and tool, and the ratios the performance issue names:
# of req/s, and of CPU per request (the cheaper one's figure over the other's,
# so that above 1 means "ahead", as for req/s).
awk -F, -v summary="$out/summary.csv" '
    NR > 1 { k = $2 "," $3; m = ++n[k]; rps[k, m] = $4; scpu[k, m] = $6; lcpu[k, m] = $7 }
    function median(arr, k,   i, j, t, m, a) {
        m = n[k]
        for (i = 1; i <= m; i++) a[i] = arr[k, i]
        for (i = 2; i <= m; i++)
            for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
    }
    END {
        split("async pool nginx", servers, " ")
        split("overlap wrk", tools, " ")
        print "server,overlap_load_rps,wrk_rps,server_us_overlap_load,server_us_wrk," \
              "overlap_load_us,wrk_us" > summary
        print "medians of /plaintext, server on one CPU, load on another:"
        print "                 req/s                 server CPU us/req     load CPU us/req"
        print "  server    overlap load     wrk    overlap load   wrk    overlap load   wrk"
        for (i = 1; i <= 3; i++) {
            s = servers[i]
            for (j = 1; j <= 2; j++) {
                k = s "," tools[j]
                r[s, tools[j]] = median(rps, k)
                sc[s, tools[j]] = median(scpu, k)
                lc[s, tools[j]] = median(lcpu, k)
            }
            printf "%s,%.0f,%.0f,%.3f,%.3f,%.3f,%.3f\n", s, r[s, "overlap"], r[s, "wrk"],
                   sc[s, "overlap"], sc[s, "wrk"], lc[s, "overlap"], lc[s, "wrk"] > summary
            printf "  %-6s  %10.0f %10.0f   %8.2f %8.2f     %8.2f %8.2f\n", s, r[s, "overlap"],
                   r[s, "wrk"], sc[s, "overlap"], sc[s, "wrk"], lc[s, "overlap"], lc[s, "wrk"]
        }
        print "ratios (target)                      req/s   CPU per request"
        for (j = 1; j <= 2; j++) {
            t = tools[j]
            printf "async/nginx, %-7s load (>= 1.0):  %6.3f   %6.3f\n", t,
                   r["async", t] / r["nginx", t], sc["nginx", t] / sc["async", t]
            printf "pool/async,  %-7s load (>= 0.6):  %6.3f   %6.3f\n", t,
                   r["pool", t] / r["async", t], sc["async", t] / sc["pool", t]
        }
        for (i = 1; i <= 3; i++)
            printf "overlap load/wrk, %-6s (>= 1.0):   %6.3f   %6.3f\n", servers[i],
                   r[servers[i], "overlap"] / r[servers[i], "wrk"],
                   lc[servers[i], "wrk"] / lc[servers[i], "overlap"]
    }' "$out/peers.csv" | tee "$out/ratios.txt"

gnuplot -e "dir='$out'" "$src/plots/peers.gp"
echo "bench-peers: results in $out" >&2

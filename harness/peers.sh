#!/usr/bin/env bash
# `make bench-peers`: /plaintext through the async engine (one loop), the pool
# (request mode) and nginx (one worker), each loaded by `overlap load` and by
# wrk at 64 connections, server pinned to one CPU and load to another. Rounds
# alternate the servers so drift on a shared machine hits them all alike; the
# ratios are of medians. Writes peers.csv, peers.png/.svg and the ratios into
# results/peers-<UTC timestamp>/.
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
    command -v "$tool" >/dev/null || { echo "bench-peers: $tool is missing (make deps-peers)" >&2; exit 1; }
done
[ -d "$out" ] && { echo "bench-peers: $out exists; results are never overwritten" >&2; exit 1; }
mkdir -p "$out/logs"
tmp=$(mktemp -d)
chmod 700 "$tmp"
pids=()

cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts a command in the background; its first stdout line must be
# `listening ADDR`. Sets $addr and appends the PID to pids.
start_overlap() {
    local log=$1
    shift
    "$@" >"$log.out" 2>"$log" &
    local pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do
        if read -r word addr <"$log.out" 2>/dev/null && [ "$word" = listening ]; then
            last=$pid
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "bench-peers: $* did not start (see $log)" >&2
    exit 1
}

stop() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# A port nothing on 127.0.0.1 answers on (nginx cannot report a port it picked).
free_port() {
    local port
    for _ in $(seq 50); do
        port=$((20000 + RANDOM % 20000))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
    done
    echo "bench-peers: no free port found" >&2
    exit 1
}

start_nginx() {
    local port
    port=$(free_port)
    mkdir -p "$tmp/nginx"
    cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes 1;
master_process off;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx;
    proxy_temp_path $tmp/nginx;
    fastcgi_temp_path $tmp/nginx;
    uwsgi_temp_path $tmp/nginx;
    scgi_temp_path $tmp/nginx;
    server {
        listen 127.0.0.1:$port reuseport backlog=4096;
        location / { default_type text/plain; return 200 "Hello, World!"; }
    }
}
EOF
    taskset -c "$server_cpu" nginx -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" -e "$tmp/nginx/error.log" \
        2>"$out/logs/nginx.log" &
    last=$!
    pids+=("$last")
    addr=127.0.0.1:$port
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "bench-peers: nginx did not start (see $out/logs/nginx.log)" >&2
    exit 1
}

# One measurement: prints req/s of a load tool against $addr.
measure() {
    local tool=$1 tag=$2
    if [ "$tool" = wrk ]; then
        taskset -c "$load_cpu" wrk -t1 -c"$conns" -d"$duration" "http://$addr/plaintext" \
            >"$out/logs/$tag.log" 2>&1
        awk '/^Requests\/sec:/ { print $2 }' "$out/logs/$tag.log"
    else
        "$bin" load --target "$addr" --path /plaintext --clients "$conns" --duration "$duration" \
            --warmup 1s --threads 1 --cpus "$load_cpu" --csv "$tmp/load.csv" >"$out/logs/$tag.log" 2>&1
        awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "throughput_rps") c = i }
                 NR == 2 { print $c }' "$tmp/load.csv"
    fi
}

start_db() {
    start_overlap "$out/logs/db.log" "$bin" db --workload "$src/workloads/seed.ini"
    db_addr=$addr
    db_pid=$last
}

start_server() {
    case $1 in
    async) start_overlap "$out/logs/async.log" "$bin" serve --engine async --loops 1 \
        --workload "$src/workloads/seed.ini" --db "$db_addr" --listen 127.0.0.1:0 --cpus "$server_cpu" ;;
    pool) start_overlap "$out/logs/pool.log" "$bin" serve --engine pool --workers "$pool_workers" \
        --workload "$src/workloads/seed.ini" --db "$db_addr" --listen 127.0.0.1:0 --cpus "$server_cpu" ;;
    nginx) start_nginx ;;
    esac
}

start_db
echo "round,server,tool,rps" >"$out/peers.csv"
for round in $(seq "$rounds"); do
    for server in async pool nginx; do
        start_server "$server"
        for tool in overlap wrk; do
            rps=$(measure "$tool" "$round-$server-$tool")
            [ -n "$rps" ] || { echo "bench-peers: no figure from $tool against $server (see $out/logs)" >&2; exit 1; }
            echo "$round,$server,$tool,$rps" >>"$out/peers.csv"
            printf '[round %d] %-6s %-8s %10.0f req/s\n' "$round" "$server" "$tool" "$rps" >&2
        done
        stop "$last"
    done
done

# Medians per server and tool, and the ratios the performance issue names.
awk -F, -v summary="$out/summary.csv" '
    NR > 1 { v[$2 "," $3, ++n[$2 "," $3]] = $4 }
    function median(k,   i, j, t, m, a) {
        m = n[k]
        for (i = 1; i <= m; i++) a[i] = v[k, i]
        for (i = 2; i <= m; i++)
            for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
    }
    END {
        split("async pool nginx", servers, " ")
        split("overlap wrk", tools, " ")
        print "server,overlap_load_rps,wrk_rps" > summary
        print "median req/s of /plaintext (server on one CPU, load on another):"
        for (i = 1; i <= 3; i++) {
            s = servers[i]
            for (j = 1; j <= 2; j++) med[s, tools[j]] = median(s "," tools[j])
            printf "%s,%.0f,%.0f\n", s, med[s, "overlap"], med[s, "wrk"] > summary
            printf "  %-6s  overlap load %10.0f   wrk %10.0f\n", s, med[s, "overlap"], med[s, "wrk"]
        }
        for (j = 1; j <= 2; j++) {
            t = tools[j]
            printf "async/nginx (%s load):  %.3f\n", t, med["async", t] / med["nginx", t]
            printf "pool/async (%s load):   %.3f\n", t, med["pool", t] / med["async", t]
        }
        for (i = 1; i <= 3; i++)
            printf "overlap load/wrk against %s: %.3f\n", servers[i], med[servers[i], "overlap"] / med[servers[i], "wrk"]
    }' "$out/peers.csv" | tee "$out/ratios.txt"

gnuplot -e "dir='$out'" "$src/plots/peers.gp"
echo "bench-peers: results in $out" >&2

#!/usr/bin/env bash
# `make bench-pgcost`: what the engines' PostgreSQL client costs the server
# a query, against what `pgbench -M prepared` spends as a client for the
# same prepared point select. One throwaway cluster (`overlap pg`) on
# LOAD_CPU with the load tools; the client measured is pinned to
# SERVER_CPU:
#   pgbench  -M prepared, CONNS connections on one thread, DURATION: its
#            CPU time (user + system) over the transactions it ran;
#   engines  async and coro (one loop, CONNS connections, pipeline mode)
#            and the pool (CONNS workers, blocking libpq), at RATE req/s
#            open loop on /one (the select, its row as JSON) and on
#            /plaintext (no query): the server's CPU per request, and
#            their difference, what the query adds.
# A shared machine only adds work, so each figure is the best of ROUNDS
# rounds, the order rotating. Writes pgcost.csv and summary.txt into OUT.
#
# usage: harness/perf/pgcost.sh OVERLAP_BIN [OUT]
# env:   ROUNDS (5), DURATION (3s), RATE (4000), CONNS (8), SERVER_CPU (0),
#        LOAD_CPU (1)
set -euo pipefail

bin=$(realpath "$1")
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${2:-$src/results/pgcost-$(date -u +%Y%m%dT%H%M%SZ)}
rounds=${ROUNDS:-5}
duration=${DURATION:-3s}
rate=${RATE:-4000}
conns=${CONNS:-8}
server_cpu=${SERVER_CPU:-0}
load_cpu=${LOAD_CPU:-1}

command -v pgbench >/dev/null || { echo "bench-pgcost: pgbench is missing (make bench-pgcost installs postgresql-15)" >&2; exit 1; }
[ -d "$out" ] && { echo "bench-pgcost: $out exists; results are never overwritten" >&2; exit 1; }
mkdir -p "$out/logs"
name=bench-pgcost # servers.sh's messages' prefix
# shellcheck source=harness/perf/servers.sh
. "$src/harness/perf/servers.sh"
hz=$(getconf CLK_TCK)
seconds=${duration%s}

# The select alone: no CPU step, no injected latency, the real query's time.
wl=$tmp/pgcost.ini
cat >"$wl" <<'INI'
[workload]
name = pgcost
[database]
dataset = techempower
[query.world]
sql = SELECT id, randomNumber FROM World WHERE id = ?
params = int 1 10000
latency = fixed 0ms
[request.one]
steps = query world
INI
chmod 644 "$wl"
start_overlap "$out/logs/pg.log" taskset -c "$load_cpu" "$bin" pg --workload "$wl" \
    --connections $((conns + 2))
dsn=$addr
cat >"$tmp/select.sql" <<'SQL'
\set id random(1, 10000)
SELECT id, randomNumber FROM World WHERE id = :id;
SQL

# pgbench's CPU per transaction (us), pinned to the server's CPU.
pgbench_cost() {
    local log=$out/logs/pgbench-$1.log
    TICKS_FILE=$tmp/pgbench.ticks run_timed taskset -c "$server_cpu" pgbench -n -M prepared \
        -c "$conns" -j 1 -T "$seconds" -f "$tmp/select.sql" "$dsn" >"$log" 2>&1 || true
    awk -v t="$(cat "$tmp/pgbench.ticks")" -v hz="$hz" \
        '/number of transactions actually processed/ { split($0, a, ": "); split(a[2], b, "/"); n = b[1] }
         END { if (n > 0) printf "%.2f", t * 1e6 / hz / n }' "$log"
}

# The server's CPU per request (us) on PATH at the rate, of the server $last.
server_cost() {
    local t0 t1 reqs
    "$bin" load --target "$addr" --path "$1" --rate 500 --clients "$conns" --duration 1s \
        --cpus "$load_cpu" >/dev/null 2>&1 || true # warm
    rm -f "$tmp/load.csv"
    t0=$(cpu_ticks "$last")
    "$bin" load --target "$addr" --path "$1" --rate "$rate" --clients 64 --duration "$duration" \
        --cpus "$load_cpu" --csv "$tmp/load.csv" >>"$out/logs/load.log" 2>&1 || true
    t1=$(cpu_ticks "$last")
    reqs=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "throughput_rps") c = i }
                    NR == 2 { print $c }' "$tmp/load.csv" 2>/dev/null)
    awk -v t=$((t1 - t0)) -v r="${reqs:-0}" -v d="$seconds" -v hz="$hz" \
        'BEGIN { if (r > 0) printf "%.2f", t * 1e6 / hz / (r * d) }'
}

start_engine() {
    local flags=(--engine "$1" --db-connections "$conns")
    [ "$1" = pool ] && flags=(--engine pool --workers "$conns")
    [ "$1" = pool ] || flags+=(--loops 1)
    start_overlap "$out/logs/$1.log" "$bin" serve "${flags[@]}" --workload "$wl" --db "$dsn" \
        --listen 127.0.0.1:0 --cpus "$server_cpu"
}

echo "round,client,us_per_query,us_per_plaintext" >"$out/pgcost.csv"
clients=(pgbench async coro pool)
n=${#clients[@]}
for round in $(seq "$rounds"); do
    for i in $(seq 0 $((n - 1))); do
        client=${clients[$(((round - 1 + i) % n))]}
        if [ "$client" = pgbench ]; then
            q=$(pgbench_cost "$round")
            p=
        else
            start_engine "$client"
            q=$(server_cost /one)
            p=$(server_cost /plaintext)
            stop "$last"
        fi
        echo "$round,$client,$q,$p" >>"$out/pgcost.csv"
        printf '[round %d] %-8s %8s us a query  %8s us a /plaintext\n' "$round" "$client" "$q" "$p" >&2
    done
done

awk -F, 'NR > 1 && $3 != "" { if (!($2 in q) || $3 < q[$2]) q[$2] = $3 }
         NR > 1 && $4 != "" { if (!($2 in p) || $4 < p[$2]) p[$2] = $4 }
         END {
             printf "%-8s %14s %16s %14s %12s\n", "client", "us/request", "us/plaintext", "us/query", "x pgbench"
             printf "%-8s %14.2f %16s %14.2f %12s\n", "pgbench", q["pgbench"], "-", q["pgbench"], "1"
             split("async coro pool", c, " ")
             for (i = 1; i <= 3; i++) if (c[i] in q) {
                 d = q[c[i]] - p[c[i]]
                 printf "%-8s %14.2f %16.2f %14.2f %12.2f\n", c[i], q[c[i]], p[c[i]], d, d / q["pgbench"]
             }
             printf "\nbest of the rounds; us/query: an engine'"'"'s /one less its /plaintext (what the query adds), pgbench'"'"'s whole transaction\n"
         }' "$out/pgcost.csv" | tee "$out/summary.txt"
echo "bench-pgcost: results in $out" >&2

# shellcheck shell=bash disable=SC2034,SC2154 # name and server_cpu come from the caller, addr goes back to it
# Sourced by harness/peers.sh and the scripts of harness/perf/: a private
# temporary folder, the servers they measure (overlap children,
# overlap-floor, nginx) started in the background and stopped by PID when
# the script ends, the CPU time of servers and load tools, a server's
# process tree (CPU, RSS, descriptors) and its memory per idle connection.
# The caller sets `name` (its messages' prefix) and `server_cpu` (where the
# floor and nginx run) before sourcing.

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

# start_overlap LOG COMMAND...: runs an overlap command whose first stdout
# line is `listening ADDR`. Sets addr, and last to its PID.
start_overlap() {
    local log=$1
    shift
    : >"$log.out" # exists before the child writes it, so the first read finds it
    "$@" >"$log.out" 2>"$log" &
    last=$!
    pids+=("$last")
    for _ in $(seq 200); do
        if read -r word addr <"$log.out" 2>/dev/null && [ "$word" = listening ]; then
            return 0
        fi
        kill -0 "$last" 2>/dev/null || break
        sleep 0.05
    done
    echo "$name: $* did not start: $(tail -n 3 "$log")" >&2
    exit 1
}

stop() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# start_floor LOG OVERLAP_BIN [FLOOR FLAGS...]: overlap-floor
# (harness/perf/floor.c, built beside overlap), pinned to server_cpu. Sets
# addr and last.
start_floor() {
    local log=$1 floor
    floor=$(dirname "$2")/overlap-floor
    shift 2
    [ -x "$floor" ] || { echo "$name: $floor is missing (cmake --build builds it)" >&2; exit 1; }
    start_overlap "$log" taskset -c "$server_cpu" "$floor" "$@"
}

# A port nothing on 127.0.0.1 answers on (nginx cannot report a port it
# picked), below the ephemeral range: there a client's outgoing connection,
# ours or another program's, can hold the port while nothing listens on it.
free_port() {
    local port low
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range
    [ "$low" -gt 12000 ] || low=32768
    for _ in $(seq 50); do
        port=$((10000 + RANDOM % (low - 10000)))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
    done
    echo "$name: no free port found" >&2
    exit 1
}

# start_nginx LOG: one worker, `return 200 "Hello, World!"`, access log off,
# pinned to server_cpu, its config and files in the private folder. Sets addr
# and last.
start_nginx() {
    local log=$1 port
    port=$(free_port)
    mkdir -p "$tmp/nginx"
    cat >"$tmp/nginx/nginx.conf" <<CONF
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
CONF
    taskset -c "$server_cpu" nginx -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" \
        -e "$tmp/nginx/error.log" 2>"$log" &
    last=$!
    pids+=("$last")
    addr=127.0.0.1:$port
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "$name: nginx did not start: $(tail -n 3 "$log")" >&2
    exit 1
}

# CPU time (utime + stime, clock ticks) process $1 has used so far.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# Runs a load tool in a shell that, once the tool has ended, writes the CPU
# time its waited-for children used (cutime + cstime) to $TICKS_FILE.
run_timed() {
    bash -c '"$@"; awk "{ print \$16 + \$17 }" /proc/$$/stat >"$TICKS_FILE"' run "$@"
}

# The process $1 and its descendants, one PID a line.
tree() {
    local p c
    echo "$1"
    for p in /proc/"$1"/task/*/children; do
        for c in $(cat "$p" 2>/dev/null); do tree "$c"; done
    done
}

# Sums a /proc/PID/FILE field expression ($2) over the tree of $1 ($3 FILE).
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

# idle_rss BIN PID ADDR N LOAD_CPU LOG: the RSS of server PID's process tree
# per idle keep-alive connection, each answered once and then idle. N/2
# connections are opened and held, then N/2 more, and the cost per
# connection is the growth between the two over the connections added:
# what the server allocates once, however many connections it holds (a
# provided buffer ring filled as the first requests come, a pool's arena),
# is in both and cancels, where measuring against the idle server would
# spread it over the connections. Prints "KIB_PER_CONNECTION,HELD,FIXED_KIB":
# the connections held in the end, and what the first half cost beyond
# their share (the fixed part). Each half gets up to a minute to connect;
# its generator outlasts both, and is stopped once the second is read.
idle_rss() {
    local bin=$1 pid=$2 target=$3 half=$(($4 / 2)) cpu=$5 log=$6 loads=() i before fds0
    local -a rss held
    before=$(tree_rss "$pid")
    fds0=$(tree_fds "$pid")
    for i in 1 2; do
        "$bin" load --target "$target" --path /plaintext --clients "$half" --think 'fixed 600s' \
            --duration 300s --timeout 300s --cpus "$cpu" >>"$log" 2>&1 &
        loads+=($!)
        local waited=0
        while [ "$(tree_fds "$pid")" -lt $((fds0 + i * half)) ] && [ $waited -lt 60 ]; do
            sleep 1
            waited=$((waited + 1))
        done
        sleep 1
        rss[i]=$(tree_rss "$pid")
        held[i]=$(($(tree_fds "$pid") - fds0))
    done
    kill "${loads[@]}" 2>/dev/null || true
    wait "${loads[@]}" 2>/dev/null || true
    awk -v b="$before" -v r1="${rss[1]}" -v r2="${rss[2]}" -v h1="${held[1]}" -v h2="${held[2]}" \
        'BEGIN { per = h2 > h1 ? (r2 - r1) / (h2 - h1) : 0
                 printf "%.3f,%d,%.0f", per, h2, r1 - b - per * h1 }'
}

# shellcheck shell=bash disable=SC2034,SC2154 # name and server_cpu come from the caller, addr goes back to it
# Sourced by harness/peers.sh and harness/perf/measure.sh: a private temporary
# folder, the servers they measure (overlap children, overlap-floor, nginx)
# started in the background and stopped by PID when the script ends, and the
# CPU time of servers and load tools. The caller sets `name` (its messages'
# prefix) and `server_cpu` (where the floor and nginx run) before sourcing.

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

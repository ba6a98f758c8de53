"""A whole overlap engine in one file, Python's standard library only:
http.server's ThreadingHTTPServer (a thread per connection), each thread
with its own blocking connection to overlap's database.

    python3 example.py --listen 127.0.0.1:0 --db unix:/tmp/db.sock --workload seed.json
"""
import argparse, json, math, random, socket, struct, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DB_TIMEOUT = 5.0           # seconds a query may take; then 504
local = threading.local()  # each thread's database connection


class DbError(Exception):  # args: the HTTP status and why
    pass


def encode(p):
    """A workload parameter as a db protocol value; an int range is drawn."""
    if p["kind"] == "int":
        return struct.pack(">Bq", 1, random.randint(p["lo"], p["hi"]) if "lo" in p else p["value"])
    if p["kind"] == "real":
        return struct.pack(">Bd", 2, p["value"])
    if p["kind"] == "text":
        return struct.pack(">BI", 3, len(p["value"].encode())) + p["value"].encode()
    return b"\0"  # null


def decode(body):
    """The rows of a result frame's body; a real JSON cannot hold is null."""
    ncols, nrows = struct.unpack_from(">II", body, 1)
    values, off = [], 9
    for _ in range(ncols * nrows):
        kind, off = body[off], off + 1
        if kind in (1, 2):
            v = struct.unpack_from(">q" if kind == 1 else ">d", body, off)[0]
            values.append(v if kind == 1 or math.isfinite(v) else None)
            off += 8
        elif kind == 3:
            n = struct.unpack_from(">I", body, off)[0]
            values.append(body[off + 4:off + 4 + n].decode("utf-8", "replace"))
            off += 4 + n
        else:
            values.append(None)
    return [values[r * ncols:(r + 1) * ncols] for r in range(nrows)]


def connect():
    """A connection to `unix:/PATH` or `tcp:HOST:PORT`, and a reader on it."""
    if DB.startswith("unix:"):
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(DB[5:])
    else:
        host, _, port = DB[4:].rpartition(":")
        sock = socket.create_connection((host, int(port)))
    sock.settimeout(DB_TIMEOUT)  # an answer comes whole: one wait covers the query
    return sock, sock.makefile("rb")


def read(reader, n):
    data = reader.read(n)
    if len(data) < n:
        raise ConnectionError("the database closed the connection")
    return data


def query(index):
    """Runs query index on this thread's connection, one query at a time (so
    every frame carries tag 0). A connection found dead is opened again and
    the query sent once more; one that timed out is closed, its answer lost."""
    params = WORKLOAD["queries"][index]["params"]
    body = struct.pack(">HH", index, len(params)) + b"".join(encode(p) for p in params)
    for _ in range(2):
        try:
            if getattr(local, "db", None) is None:
                local.db = connect()
        except OSError:
            raise DbError(503, "database unreachable")
        sock, reader = local.db
        try:
            sock.sendall(struct.pack(">IBI", 5 + len(body), 1, 0) + body)
            length, kind, _ = struct.unpack(">IBI", read(reader, 9))
            reply = read(reader, length - 5)
        except OSError as e:
            sock.close()
            local.db = None
            if isinstance(e, TimeoutError):
                raise DbError(504, "database timed out")
            continue
        if kind == 3:  # an error frame: status 7 is `unavailable`, worth a retry
            status, n = struct.unpack_from(">BH", reply)
            raise DbError(503 if status == 7 else 500, reply[3:3 + n].decode(errors="replace"))
        return decode(reply)
    raise DbError(503, "database unreachable")


def burn(ns):
    """Spins until this thread has had ns of CPU time; returns what it had."""
    start = now = time.thread_time_ns()
    while now < start + ns:
        now = time.thread_time_ns()
    return now - start


def escape(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


def cell(v):  # a real as C's %.17g, as overlap's own engines write it
    return "" if v is None else escape(v) if isinstance(v, str) else \
        "%.17g" % v if isinstance(v, float) else str(v)


def render(req, results):
    if req["render"] == "html":
        tables = "".join(f"<table><caption>{escape(name)}</caption>" + "".join(
            "<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
            + "</table>" for name, rows in results)
        return "text/html; charset=utf-8", (f"<!DOCTYPE html><html><head><title>"
            f"{escape(req['name'])}</title></head><body>{tables}</body></html>").encode()
    doc = {"request": req["name"], "results": [{"query": n, "rows": r} for n, r in results]}
    return "application/json", json.dumps(doc, separators=(",", ":")).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"          # keep-alive (HTTP/1.0 clients get a close)
    default_request_version = "HTTP/1.1"   # else a bad request line's 400 has no status line

    def do_GET(self):
        start = time.perf_counter_ns()  # arrival is not seen here: the queue phase is 0
        if self.headers.defects:  # a line that is not a header field
            self.close_connection = True
            return self.error(400)
        head = len(self.requestline) + sum(len(k) + len(v) + 4 for k, v in self.headers.items())
        if head > 8192:  # http.server only limits each line, to 64 KiB
            self.close_connection = True
            return self.error(431)
        path = self.path.split("?")[0]
        if path == "/plaintext":
            return self.reply(200, "text/plain", b"Hello, World!")
        if path not in ROUTES:
            return self.error(404)
        req, phases, cpu, results, mark = ROUTES[path], [0], 0, [], start
        try:
            for step in req["steps"]:
                if "cpu_ns" in step:
                    cpu += burn(step["cpu_ns"])
                else:
                    q = step["query"]
                    results.append((WORKLOAD["queries"][q]["name"], query(q)))
                phases.append(time.perf_counter_ns() - mark)
                mark += phases[-1]
        except DbError as e:
            return self.error(*e.args)
        names = ["queue"] + ["cpu" if "cpu_ns" in s else "db" for s in req["steps"]]
        timing = [f"{name};dur={ns / 1e6:.3f}" for name, ns in zip(names, phases)]
        timing += [f"cpu-time;dur={cpu / 1e6:.3f}"] if "cpu" in names else []
        self.reply(200, *render(req, results), {"Server-Timing": ", ".join(timing)})

    do_HEAD = do_GET  # reply() leaves the body out

    def __getattr__(self, name):  # do_POST, do_PUT, ...: any other method is 405
        if name.startswith("do_"):
            return self.not_allowed
        raise AttributeError(name)

    def not_allowed(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))  # the next request follows
        self.error(405, headers={"Allow": "GET, HEAD"})

    def error(self, status, reason=None, headers={}):
        text = f"{status} {self.responses[status][0]}" + (f": {reason}" if reason else "")
        self.reply(status, "text/plain; charset=utf-8", (text + "\n").encode(), headers)

    def reply(self, status, content_type, body, headers={}):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_request(self, code="-", size="-"):
        pass  # no line per request (errors are still logged)


class Server(ThreadingHTTPServer):
    request_queue_size = 4096  # the listen backlog: the default 5 drops connections


if __name__ == "__main__":
    args = argparse.ArgumentParser()
    for flag in ("--listen", "--db", "--workload"):
        args.add_argument(flag, required=True)
    args = args.parse_args()
    with open(args.workload) as f:
        WORKLOAD = json.load(f)
    ROUTES, DB = {r["path"]: r for r in WORKLOAD["requests"]}, args.db
    host, _, port = args.listen.rpartition(":")
    server = Server((host, int(port)), Handler)
    print("listening %s:%d" % server.server_address[:2], flush=True)
    server.serve_forever()

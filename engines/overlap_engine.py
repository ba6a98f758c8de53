"""What overlap's Python engines share, standard library only: the workload
file, the db protocol (a blocking client for threads, an asyncio one for an
event loop), what every PostgreSQL client needs whatever its driver (the
draws, the pg_sleep, the values as overlap's own engines convert them, the
statuses), the bodies, Server-Timing, the CPU burn and the `listening` line.
The servers around it (python_asyncio.py, python_threads.py) route, and hold
their PostgreSQL driver."""

import asyncio
import http
import json
import math
import random
import re
import socket
import struct
import sys
import time

DB_TIMEOUT = 5.0      # seconds a query may wait for its answer; then 504
MAX_HEAD = 8192       # a request head over this is refused with 431
RETRY_MIN = 0.05      # first pause, in seconds, before reconnecting to the db
RETRY_MAX = 1.0       # the longest pause between two attempts
CONNECT_TIMEOUT = 10  # seconds a PostgreSQL connection may take to open

# ---- the workload ----


class Query:
    """One `queries` entry: its name, and its parameters ready to encode.
    A constant is encoded once; an int range is drawn at each execution."""

    def __init__(self, index, spec):
        self.index = index
        self.name = spec["name"]
        self.params = [_param(p) for p in spec["params"]]
        # On PostgreSQL: the statement, its parameters as values (a drawn
        # int as its (lo, hi)) and the waits to draw from, in seconds.
        self.sql = spec.get("sql", "")
        self.pg_params = [(p["lo"], p["hi"]) if "lo" in p else p.get("value")
                          for p in spec["params"]]
        self.waits = [ms / 1000 for ms in spec.get("latency_ms") or [0]]

    def values(self):
        """The parameters of one execution on PostgreSQL, with fresh draws:
        int, float, str or None (SQL NULL)."""
        return [random.randint(*p) if isinstance(p, tuple) else p for p in self.pg_params]

    def wait(self):
        """One draw of the query's latency, in seconds: the pg_sleep that
        precedes it, none when 0."""
        return self.waits[random.randrange(len(self.waits))]

    def frame(self, tag):
        """The query frame for one execution, with fresh draws."""
        values = b"".join(p if isinstance(p, bytes) else _INT.pack(1, random.randint(*p))
                          for p in self.params)
        return _QUERY.pack(9 + len(values), KIND_QUERY, tag, self.index,
                           len(self.params)) + values


def _param(p):
    """A parameter as the bytes of its value, or (lo, hi) for a drawn int."""
    kind = p["kind"]
    if kind == "int" and "lo" in p:
        return (p["lo"], p["hi"])
    if kind == "int":
        return _INT.pack(1, p["value"])
    if kind == "real":
        return _REAL.pack(2, p["value"])
    if kind == "text":
        text = p["value"].encode("utf-8", "surrogateescape")
        return _TEXT.pack(3, len(text)) + text
    if kind == "null":
        return b"\x00"
    raise ValueError(f"unknown parameter kind {kind!r}")


class Request:
    """One `requests` entry. steps holds ("cpu", ns) and ("query", Query)."""

    def __init__(self, spec, queries):
        self.name = spec["name"]
        self.path = spec["path"]
        self.html = spec.get("render", "json") == "html"
        self.content_type = "text/html; charset=utf-8" if self.html else "application/json"
        self.steps = [("cpu", s["cpu_ns"]) if "cpu_ns" in s else ("query", queries[s["query"]])
                      for s in spec["steps"]]
        self.has_cpu = any(kind == "cpu" for kind, _ in self.steps)


class Workload:
    """The workload as overlap exports it; routes maps a path to its Request."""

    def __init__(self, path):
        # A text constant is passed byte for byte, UTF-8 or not: bytes that
        # are not UTF-8 become surrogates here and the same bytes again in
        # the query frame.
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            spec = json.load(f)
        self.name = spec["workload"]
        self.queries = [Query(i, q) for i, q in enumerate(spec["queries"])]
        self.requests = [Request(r, self.queries) for r in spec["requests"]]
        self.routes = {r.path: r for r in self.requests}


# ---- the db protocol (db/PROTOCOL.md) ----

KIND_QUERY, KIND_RESULT, KIND_ERROR = 1, 2, 3
STATUS_OVERSIZE, STATUS_UNAVAILABLE = 6, 7

_HEADER = struct.Struct(">IBI")        # length, kind, tag
_QUERY = struct.Struct(">IBIHH")       # the header, then query and nparams
_INT = struct.Struct(">Bq")
_REAL = struct.Struct(">Bd")
_TEXT = struct.Struct(">BI")
_RESULT = struct.Struct(">BII")        # status, ncols, nrows
_ERROR = struct.Struct(">BH")          # status, message length
_I64, _F64, _U32 = struct.Struct(">q"), struct.Struct(">d"), struct.Struct(">I")


class DbError(Exception):
    """A query that ends the request with an HTTP error: 503, 504 or 500."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class ConnectionLost(Exception):
    """The db connection died with the query on it (it may be sent again)."""


def unreachable():
    return DbError(503, "database unreachable")


def decode_answer(kind, body):
    """The rows of a result frame's body; DbError for an error frame.
    Text is str (bytes that are not UTF-8 kept as surrogates); a real that is
    not finite is None, as both renderers write it like a null."""
    if kind == KIND_ERROR:
        status, n = _ERROR.unpack_from(body)
        message = body[3:3 + n].decode("utf-8", "replace")
        raise DbError(503 if status == STATUS_UNAVAILABLE else 500, message)
    if kind != KIND_RESULT:
        raise DbError(500, f"unexpected frame kind {kind}")
    _, ncols, nrows = _RESULT.unpack_from(body)
    values, off = [], _RESULT.size
    for _ in range(ncols * nrows):
        t = body[off]
        off += 1
        if t == 1:
            values.append(_I64.unpack_from(body, off)[0])
            off += 8
        elif t == 2:
            r = _F64.unpack_from(body, off)[0]
            values.append(r if math.isfinite(r) else None)
            off += 8
        elif t == 3:
            n = _U32.unpack_from(body, off)[0]
            values.append(body[off + 4:off + 4 + n].decode("utf-8", "surrogateescape"))
            off += 4 + n
        else:
            values.append(None)
    return [values[r * ncols:(r + 1) * ncols] for r in range(nrows)]


def parse_db_address(addr):
    """`unix:/PATH` or `tcp:HOST:PORT` as (family, address)."""
    if addr.startswith("unix:"):
        return socket.AF_UNIX, addr[5:]
    if addr.startswith("tcp:"):
        host, _, port = addr[4:].rpartition(":")
        return socket.AF_INET, (host.strip("[]"), int(port))
    raise ValueError(f"bad db address {addr!r} (expected unix:/PATH or tcp:HOST:PORT)")


class BlockingDb:
    """One connection, one query at a time: what each thread of a pool holds.
    A query that times out leaves its late answer on the connection; the next
    query skips it by its tag. A connection found dead is opened again and
    the query sent once more, so a database restart costs no error; while the
    database is down, queries get 503 at once."""

    def __init__(self, addr):
        self.family, self.address = parse_db_address(addr)
        self.sock = None
        self.buf = bytearray()
        self.tag = 0

    def query(self, q):
        for _ in range(2):
            if self.sock is None:
                self._connect()
            self.tag = (self.tag + 1) & 0xFFFFFFFF
            try:
                self.sock.sendall(q.frame(self.tag))
                kind, body = self._answer(self.tag)
            except (ConnectionLost, OSError) as e:
                if isinstance(e, socket.timeout):
                    raise DbError(504, "database timed out") from None
                self.close()
                continue
            if kind == KIND_ERROR and body[0] == STATUS_OVERSIZE:
                self.close()  # the server closes the connection after it
            return decode_answer(kind, body)
        raise unreachable()

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.buf.clear()

    def _connect(self):
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        try:
            sock.settimeout(DB_TIMEOUT)
            sock.connect(self.address)
        except OSError:
            sock.close()
            raise unreachable() from None
        self.sock = sock

    def _answer(self, tag):
        """The (kind, body) of the frame tagged tag, skipping stale answers."""
        deadline = time.monotonic() + DB_TIMEOUT
        while True:
            while len(self.buf) >= 4 and len(self.buf) >= 4 + _U32.unpack_from(self.buf)[0]:
                length, kind, got = _HEADER.unpack_from(self.buf)
                body = bytes(self.buf[9:4 + length])
                del self.buf[:4 + length]
                if got == tag:
                    return kind, body
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout()
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionLost()
            self.buf += chunk


class AsyncDb:
    """A few connections for one event loop, many tagged queries in flight on
    each. Each connection has a task that keeps it up and reads its answers,
    handing each to the future waiting for its tag. Queries go round robin to
    the connections that are up; while none is, they get 503 at once."""

    def __init__(self, addr, nconns):
        self.conns = [_AsyncConn(addr) for _ in range(nconns)]
        self.next = 0

    def start(self):
        for c in self.conns:
            c.task = asyncio.get_running_loop().create_task(c.run())

    async def close(self):
        for c in self.conns:
            c.task.cancel()
        await asyncio.gather(*(c.task for c in self.conns), return_exceptions=True)

    async def query(self, q):
        # A query out on a connection that died is sent once more, as
        # BlockingDb does.
        for _ in range(2):
            conn = self._pick()
            if conn is None:
                break
            try:
                return await conn.query(q)
            except ConnectionLost:
                continue
        raise unreachable()

    def _pick(self):
        n = len(self.conns)
        for i in range(n):
            conn = self.conns[(self.next + i) % n]
            if conn.writer is not None:
                self.next = (self.next + i + 1) % n
                return conn
        return None


class _AsyncConn:
    def __init__(self, addr):
        self.family, self.address = parse_db_address(addr)
        self.writer = None      # set while the connection is up
        self.waiting = {}       # tag -> the future of the query sent with it
        self.tag = 0
        self.task = None

    async def run(self):
        """Connects, reads answers until the connection dies, and again,
        pausing longer after each failed attempt."""
        pause = RETRY_MIN
        while True:
            try:
                if self.family == socket.AF_UNIX:
                    reader, writer = await asyncio.open_unix_connection(self.address)
                else:
                    reader, writer = await asyncio.open_connection(*self.address)
            except OSError:
                await asyncio.sleep(pause)
                pause = min(pause * 2, RETRY_MAX)
                continue
            pause = RETRY_MIN
            self.writer = writer
            try:
                await self._read(reader)
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                self.writer = None
                writer.close()
                for fut in self.waiting.values():
                    if not fut.done():
                        fut.set_exception(ConnectionLost())
                self.waiting.clear()

    async def _read(self, reader):
        while True:
            length, kind, tag = _HEADER.unpack(await reader.readexactly(9))
            body = await reader.readexactly(length - 5)
            fut = self.waiting.pop(tag, None)
            if fut is not None and not fut.done():  # else it timed out: dropped
                fut.set_result((kind, body))

    async def query(self, q):
        if self.writer.is_closing():  # lost, and run() has not yet seen it
            raise ConnectionLost()
        loop = asyncio.get_running_loop()
        self.tag = (self.tag + 1) & 0xFFFFFFFF
        tag = self.tag
        fut = loop.create_future()
        self.waiting[tag] = fut
        self.writer.write(q.frame(tag))
        timer = loop.call_later(DB_TIMEOUT, _expire, fut)
        try:
            kind, body = await fut
        finally:
            timer.cancel()
            self.waiting.pop(tag, None)
        return decode_answer(kind, body)


def _expire(fut):
    if not fut.done():
        fut.set_exception(DbError(504, "database timed out"))


# ---- PostgreSQL: what every driver shares ----

# The statement that holds the connection for a query's latency: exactly this
# text, as overlap's libpq clients send it (the harness leaves it out of the
# calls it counts in pg_stat_statements). Its parameter is in seconds.
PG_SLEEP_SQL = "SELECT pg_sleep($1::float8)"

# SQLSTATEs that mean the database is not there: 503, as on overlap db.
# Class 08 (connection exception), 57P01 admin shutdown, 57P02 crash
# shutdown, 57P03 cannot connect now, 53300 too many connections.
_PG_UNAVAILABLE = ("08", "57P01", "57P02", "57P03", "53300")


def is_postgres(addr):
    """Whether {db} names PostgreSQL (a libpq URI) rather than overlap db."""
    return addr.startswith(("postgresql://", "postgres://"))


def pg_status(sqlstate):
    """The HTTP status of a PostgreSQL error: 503 when the database is not
    there (the connection is gone or refused, or no SQLSTATE came: the
    driver lost the connection), 504 for a query canceled on its deadline
    (57014), else 500."""
    state = sqlstate or ""
    if state.startswith(_PG_UNAVAILABLE) or not state:
        return 503
    return 504 if state == "57014" else 500


def pg_message(message):
    """PostgreSQL's primary message on one line, as the C engines write it."""
    return re.sub(r"[ \t\n]+", " ", message or "").strip(" ") or "unknown error"


# A cell to a JSON value exactly as overlap's libpq clients convert it
# (db/pg_result.c), from PostgreSQL's text of it: each function takes the
# text of a column of its type. Any other type stays its text.

def pg_int(text):
    """int2, int4, int8, oid: the integer, digit for digit (a Python int is
    exact past 2^53, where a double would round)."""
    return int(text)


def pg_real(text):
    """float4, float8: the double the text reads as (float4 too: its
    shortest text, as strtod reads it). One JSON cannot hold (NaN,
    Infinity) becomes null, as overlap's renderers write it."""
    r = float(text)
    return r if math.isfinite(r) else None


_INT64 = 1 << 63


def pg_numeric(text):
    """numeric: an integer when whole (no point, no exponent, no NaN) and
    within int64, else a real."""
    if not any(c in text for c in ".eEN"):
        try:
            n = int(text)
        except ValueError:  # Infinity, -Infinity
            return pg_real(text)
        if -_INT64 <= n < _INT64:
            return n
    return pg_real(text)


def pg_bool(text):
    """bool: 1 or 0."""
    return 1 if text == "t" else 0 if text == "f" else text


# pg_type.oid of the types converted; the text loaders of the drivers use it.
PG_CONVERT = {16: pg_bool, 20: pg_int, 21: pg_int, 23: pg_int, 26: pg_int,
              700: pg_real, 701: pg_real, 1700: pg_numeric}


# ---- running a request ----


def burn(ns):
    """Spins until this thread's CPU clock has advanced by ns: a thread that
    is preempted still owes the rest. Returns the thread CPU time spent."""
    start = now = time.thread_time_ns()
    end = start + ns
    while now < end:
        now = time.thread_time_ns()
    return now - start


def run_steps(request, db, arrival_ns):
    """Runs request's steps with a BlockingDb; returns its Response."""
    run = _Run(request, arrival_ns)
    for kind, arg in request.steps:
        if kind == "cpu":
            run.cpu_ns += burn(arg)
        else:
            run.results.append((arg.name, db.query(arg)))
        run.step_done()
    return run.response()


async def run_steps_async(request, db, arrival_ns):
    """Runs request's steps with an AsyncDb: the cpu steps hold the loop's
    thread, as they would in any single-threaded event loop."""
    run = _Run(request, arrival_ns)
    for kind, arg in request.steps:
        if kind == "cpu":
            run.cpu_ns += burn(arg)
        else:
            run.results.append((arg.name, await db.query(arg)))
        run.step_done()
    return run.response()


class Response:
    """A 200's content type, body and Server-Timing value."""

    def __init__(self, content_type, body, timing):
        self.content_type = content_type
        self.body = body
        self.timing = timing


class _Run:
    """One request in progress: the phases' wall times, the cpu steps' thread
    CPU time and the query results so far."""

    def __init__(self, request, arrival_ns):
        self.request = request
        self.mark = time.perf_counter_ns()
        self.phases = [max(0, self.mark - arrival_ns)]
        self.cpu_ns = 0
        self.results = []

    def step_done(self):
        now = time.perf_counter_ns()
        self.phases.append(now - self.mark)
        self.mark = now

    def response(self):
        r = self.request
        body = render_html(r, self.results) if r.html else render_json(r, self.results)
        return Response(r.content_type, body, server_timing(r, self.phases, self.cpu_ns))


def server_timing(request, phases, cpu_ns):
    """`queue;dur=0.016, cpu;dur=0.536, db;dur=10.436, cpu-time;dur=0.520`."""
    parts = [_metric("queue", phases[0])]
    parts += [_metric("cpu" if kind == "cpu" else "db", ns)
              for (kind, _), ns in zip(request.steps, phases[1:])]
    if request.has_cpu:
        parts.append(_metric("cpu-time", cpu_ns))
    return ", ".join(parts)


def _metric(name, ns):
    us = (ns + 500) // 1000
    return f"{name};dur={us // 1000}.{us % 1000:03d}"


# ---- bodies ----


def render_json(request, results):
    """`{"request":"home","results":[{"query":"world","rows":[[42,189]]}]}`."""
    doc = {"request": request.name,
           "results": [{"query": name, "rows": rows} for name, rows in results]}
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", "surrogateescape")


def render_html(request, results):
    """The escaped HTML table per query, byte for byte as overlap writes it."""
    out = ["<!DOCTYPE html><html><head><title>", escape_html(request.name),
           "</title></head><body>"]
    for name, rows in results:
        out += ["<table><caption>", escape_html(name), "</caption>"]
        for row in rows:
            out.append("<tr>")
            out += ["<td>" + html_value(v) + "</td>" for v in row]
            out.append("</tr>")
        out.append("</table>")
    out.append("</body></html>")
    return "".join(out).encode("utf-8", "surrogateescape")


def html_value(v):
    """A cell: text escaped, an int in decimal, a real with 17 significant
    digits (C's %.17g, which overlap's own engines write), null empty."""
    if isinstance(v, str):
        return escape_html(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "%.17g" % v
    return ""


def escape_html(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


def status_text(status):
    """`503 Service Unavailable`."""
    return f"{status} {http.HTTPStatus(status).phrase}"


def error_body(status, reason=None):
    """The one-line body of an error: `503 Service Unavailable: why`."""
    text = status_text(status) + (f": {reason}" if reason else "")
    return (text + "\n").encode("utf-8", "replace")


# ---- the command line ----


def parse_listen(addr):
    """`HOST:PORT` as (host, port)."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"bad address {addr!r} (expected HOST:PORT)")
    return host.strip("[]"), int(port)


def announce(sock):
    """The line overlap waits for: the address actually bound (port 0 asks the
    kernel for one)."""
    host, port = sock.getsockname()[:2]
    print(f"listening {host}:{port}", flush=True)


def fail(message):
    print(f"{sys.argv[0]}: {message}", file=sys.stderr)
    sys.exit(2)

"""An overlap engine in Python's thread-pool style: a WSGI app served by
gunicorn's gthread worker, one worker process with N threads
(python_threads_conf.py holds the settings). On overlap db each thread holds
its own blocking database connection and waits on it for the answer, as a
thread of any WSGI pool does; on PostgreSQL the threads share a pool of
OVERLAP_DB_CONNECTIONS psycopg connections, as a WSGI app shares its
driver's pool: a request takes one for its query and gives it back. The
workload and the database come from the environment: OVERLAP_WORKLOAD (the
workload as JSON) and OVERLAP_DB (unix:/PATH or tcp:HOST:PORT, or a
postgresql:// URI)."""

import io
import os
import queue
import re
import socket
import sys
import threading
import time

from gunicorn.workers.gthread import ThreadWorker

import overlap_engine as oe

try:
    import psycopg  # PostgreSQL only: overlap db needs no driver
    from psycopg.adapt import AdaptersMap, Loader
    from psycopg.types.numeric import Float8, Int8
    from psycopg.types.string import TextLoader
except ImportError:
    psycopg = None

WORKLOAD = oe.Workload(os.environ["OVERLAP_WORKLOAD"])
DB_ADDRESS = os.environ["OVERLAP_DB"]
DB_CONNECTIONS = int(os.environ.get("OVERLAP_DB_CONNECTIONS") or 0) or 4
PLAIN = "text/plain; charset=utf-8"
WATCH_EVERY = 0.05  # seconds between two looks for queries past their deadline

# Per thread: its database connection, and when the request it serves was
# handed to the pool (the end of its queue phase).
_local = threading.local()


class PipelinedThreadWorker(ThreadWorker):
    """gunicorn's gthread worker, serving pipelined requests.

    gthread serves one request of a connection, then hands the socket back to
    its poller and waits for it to become readable. A request the client had
    pipelined behind the first is by then already read, into the parser's
    buffer, so the socket never becomes readable for it: the request sits
    unanswered until the keep-alive timeout closes the connection. This
    worker serves the requests already buffered, in order, before handing
    the connection back. It also notes when each connection was handed to
    the pool, where the queue phase of Server-Timing starts (for a new
    connection that is its accept: its first request may come a little
    later; for a pipelined one it is the moment it is taken up)."""

    def init_process(self):
        # In the worker, once forked (gunicorn's master imports this module
        # too, for this class): the PostgreSQL pool is opened here, before
        # the worker loads the app and announces its address.
        global PG
        if oe.is_postgres(DB_ADDRESS):
            if psycopg is None:
                print("python_threads: PostgreSQL needs psycopg 3 (Debian's python3-psycopg)",
                      file=sys.stderr, flush=True)
                sys.exit(3)  # gunicorn's "worker failed to boot": the master stops too
            PG = ThreadPg(DB_ADDRESS, WORKLOAD, DB_CONNECTIONS)
        super().init_process()

    def enqueue_req(self, conn):
        conn.queued_ns = time.perf_counter_ns()
        super().enqueue_req(conn)

    def handle(self, conn):
        _local.arrival_ns = conn.queued_ns
        keepalive, conn = super().handle(conn)
        while keepalive and self.alive and _buffered(conn):
            _local.arrival_ns = time.perf_counter_ns()
            keepalive, conn = super().handle(conn)
        return keepalive, conn


def _buffered(conn):
    """Whether the connection's parser holds bytes of a next request."""
    return conn.parser is not None and conn.parser.unreader.buf.seek(0, io.SEEK_END) > 0


def app(environ, start_response):
    arrival = getattr(_local, "arrival_ns", 0) or time.perf_counter_ns()
    _discard_body(environ)  # so that what follows it is the next request
    status, headers, body = respond(environ, arrival)
    if status[:3] in ("400", "431"):
        # A refused head: close once answered, as overlap's engines do. WSGI
        # has no word for it; gunicorn's start_response is a method of its
        # response, which can.
        start_response.__self__.force_close()
    start_response(status, headers + [("Content-Length", str(len(body)))])
    return [body]  # gunicorn sends no body for HEAD


def respond(environ, arrival):
    """The status line, the headers and the body for one request."""
    method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
    if not environ["SERVER_PROTOCOL"].startswith("HTTP/1."):  # gunicorn takes any x.y
        return error(400)
    if method not in ("GET", "HEAD"):
        return error(405, headers=[("Allow", "GET, HEAD")])
    if _head_size(environ) > oe.MAX_HEAD:
        return error(431)
    if path == "/plaintext":
        return "200 OK", [("Content-Type", "text/plain")], b"Hello, World!"
    request = WORKLOAD.routes.get(path)
    if request is None:
        return error(404)
    try:
        r = oe.run_steps(request, PG or _db(), arrival)
    except oe.DbError as e:
        return error(e.status, e.reason)
    return "200 OK", [("Content-Type", r.content_type), ("Server-Timing", r.timing)], r.body


def error(status, reason=None, headers=()):
    headers = [("Content-Type", PLAIN), *headers]
    return oe.status_text(status), headers, oe.error_body(status, reason)


def _db():
    """This thread's database connection, opened on its first query."""
    db = getattr(_local, "db", None)
    if db is None:
        db = _local.db = oe.BlockingDb(DB_ADDRESS)
    return db


# ---- PostgreSQL, with psycopg 3 ----
#
# psycopg 3 (Debian's python3-psycopg) rather than psycopg2: psycopg2 sends
# every statement as text with its parameters pasted in, and prepares only
# through SQL's PREPARE and EXECUTE (which pg_stat_statements files under
# the PREPARE's text, not the statement's). psycopg 3 speaks the extended
# protocol, as libpq's own clients do: with prepare_threshold=0 each
# statement is prepared server-side on its first execution on a connection
# and reused after, its parameters sent apart. Its loaders are set per
# connection, so every cell arrives as PostgreSQL's text and is converted
# the way overlap's C engines convert it; and its cancel() may be called
# from another thread, which is how a query past its deadline is stopped.
# The pg_sleep and the query go one after the other, two round trips:
# psycopg's pipeline mode would make them one, but costs more Python time
# per query than the round trip it saves on a local socket (about 240 us
# against 170 us for the pair, here).
# Its pool (psycopg_pool) would wait for a connection while none is up;
# this one answers 503 at once, as overlap's clients do.

PG = None  # the pool, on PostgreSQL


def _loader(convert):
    class Convert(Loader):
        def load(self, data):
            return convert(bytes(data).decode())
    return Convert


def _adapters():
    """Every type as PostgreSQL's text of it, but the ones overlap converts."""
    m = AdaptersMap(psycopg.adapters)
    for t in psycopg.adapters.types:
        for oid in (t.oid, getattr(t, "array_oid", 0)):
            if oid:
                m.register_loader(oid, TextLoader)
    for oid, convert in oe.PG_CONVERT.items():
        m.register_loader(oid, _loader(convert))
    return m


def psycopg_sql(sql):
    """The statement as psycopg takes it: `%s` where the export writes $1,
    $2, ... (in that order), `%%` for a `%`. psycopg writes it back as it
    was before sending it."""
    n = 0

    def placeholder(m):
        nonlocal n
        n += 1
        if m.group(1) != str(n):
            raise ValueError(f"parameters out of order in {sql!r}")
        return "%s"
    return re.sub(r"\$(\d+)", placeholder, sql.replace("%", "%%"))


def _typed(v):
    """A value with the type overlap's libpq clients declare for it."""
    return Int8(v) if type(v) is int else Float8(v) if type(v) is float else v


class ThreadPg:
    """Exactly n connections, opened at start, shared by the threads.

    A thread takes a connection (waiting while all are busy; 503 at once
    while none is up), runs the query's pg_sleep and then the query on it,
    and gives it back. A connection that dies is handed to a thread that
    opens it again, pausing longer after each failed attempt. A watcher
    cancels a query still running at its deadline (504); one whose cancel
    is not answered within a second has its socket shut down."""

    def __init__(self, uri, workload, n):
        self.uri = uri
        self.sql = [psycopg_sql(q.sql) for q in workload.queries]
        self.sleep_sql = psycopg_sql(oe.PG_SLEEP_SQL)
        self.adapters = _adapters()
        self.cond = threading.Condition()
        self.free = []              # open connections, idle
        self.up = 0                 # open connections, idle or busy
        self.busy = {}              # connection -> [its query's deadline, canceled]
        self.lost = queue.SimpleQueue()  # one item per connection to open again
        for _ in range(n):
            try:
                self._add(self._open())
            except psycopg.Error as e:
                print(f"postgres: cannot connect: {oe.pg_message(str(e))}", flush=True)
                self.lost.put(None)
        threading.Thread(target=self._reopen, daemon=True).start()
        threading.Thread(target=self._watch, daemon=True).start()

    def _open(self):
        conn = psycopg.connect(self.uri, autocommit=True, prepare_threshold=0,
                               connect_timeout=oe.CONNECT_TIMEOUT, context=self.adapters)
        conn.prepared_max = len(self.sql) + 1  # every statement stays prepared
        return conn

    def _add(self, conn):
        with self.cond:
            self.up += 1
            self.free.append(conn)
            self.cond.notify()

    def _reopen(self):
        pause = oe.RETRY_MIN
        while True:
            self.lost.get()
            while True:
                try:
                    conn = self._open()
                    break
                except psycopg.Error:
                    time.sleep(pause)
                    pause = min(pause * 2, oe.RETRY_MAX)
            pause = oe.RETRY_MIN
            self._add(conn)

    def _watch(self):
        while True:
            time.sleep(WATCH_EVERY)
            now = time.monotonic()
            with self.cond:
                late = [(c, e) for c, e in self.busy.items() if now >= e[0]]
            for conn, entry in late:
                try:
                    if not entry[1]:
                        entry[1] = True
                        conn.cancel()
                    elif now >= entry[0] + 1:
                        with socket.socket(fileno=os.dup(conn.fileno())) as s:
                            s.shutdown(socket.SHUT_RDWR)
                except (psycopg.Error, OSError):
                    pass

    def _take(self, deadline):
        with self.cond:
            while not self.free:
                if self.up == 0:
                    raise oe.unreachable()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise oe.DbError(504, "database timed out")
                self.cond.wait(left)
            return self.free.pop()

    def query(self, q):
        deadline = time.monotonic() + oe.DB_TIMEOUT
        conn = self._take(deadline)
        wait, values = q.wait(), [_typed(v) for v in q.values()]
        with self.cond:
            self.busy[conn] = [deadline, False]
        keep = False  # whether the connection can serve the next query
        try:
            with conn.cursor() as cur:
                if wait > 0:
                    cur.execute(self.sleep_sql, (Float8(wait),))
                cur.execute(self.sql[q.index], values)
                rows = [list(r) for r in cur.fetchall()] if cur.description else []
            keep = True
            return rows
        except psycopg.Error as e:
            keep = not conn.broken
            if time.monotonic() >= deadline:
                raise oe.DbError(504, "database timed out") from None
            if conn.broken:
                raise oe.unreachable() from None
            message = e.diag.message_primary or str(e)
            raise oe.DbError(oe.pg_status(e.sqlstate), oe.pg_message(message)) from None
        except UnicodeEncodeError as e:  # text PostgreSQL cannot hold
            keep = True
            raise oe.DbError(500, str(e)) from None
        finally:
            with self.cond:
                self.busy.pop(conn, None)
                if keep:
                    self.free.append(conn)
                    self.cond.notify()
                else:
                    self.up -= 1
                    self.cond.notify_all()  # with none up, the waiting get 503
            if not keep:
                conn.close()
                self.lost.put(None)


def _head_size(environ):
    """The request head's size, near enough: gunicorn limits each line
    (8190 bytes) but not the head as a whole."""
    size = len(environ["REQUEST_METHOD"]) + len(environ.get("RAW_URI", "")) + 14
    for key, value in environ.items():
        if key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            size += len(key) + len(value) + 4
    return size


def _discard_body(environ):
    if environ.get("CONTENT_LENGTH") or "HTTP_TRANSFER_ENCODING" in environ:
        stream = environ["wsgi.input"]
        while stream.read(65536):
            pass

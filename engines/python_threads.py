"""An overlap engine in Python's thread-pool style: a WSGI app served by
gunicorn's gthread worker, one worker process with N threads
(python_threads_conf.py holds the settings). Each thread holds its own
blocking database connection and waits on it for the answer, as a thread of
any WSGI pool does. The workload and the database come from the environment:
OVERLAP_WORKLOAD (the workload as JSON) and OVERLAP_DB (unix:/PATH or
tcp:HOST:PORT)."""

import io
import os
import threading
import time

from gunicorn.workers.gthread import ThreadWorker

import overlap_engine as oe

WORKLOAD = oe.Workload(os.environ["OVERLAP_WORKLOAD"])
DB_ADDRESS = os.environ["OVERLAP_DB"]
PLAIN = "text/plain; charset=utf-8"

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
        r = oe.run_steps(request, _db(), arrival)
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

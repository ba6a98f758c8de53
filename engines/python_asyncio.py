"""An overlap engine in Python's event-loop style: aiohttp on asyncio's loop
(or uvloop's, with --uvloop), one process, one thread. On overlap db,
queries are multiplexed over a few database connections; on PostgreSQL,
asyncpg holds --db-connections of them, one query (with its pg_sleep) at a
time on each. A cpu step runs on the loop's thread and holds every other
request back while it burns, which is what a single event loop does with
CPU work."""

import argparse
import asyncio
import collections
import signal
import socket
import time
import urllib.parse

from aiohttp import web

import overlap_engine as oe

try:
    import asyncpg  # PostgreSQL only: overlap db needs no driver
except ImportError:
    asyncpg = None

BACKLOG = 4096            # connections the kernel holds while the loop is busy
SHUTDOWN_TIMEOUT = 1.0    # seconds requests in flight get after SIGTERM
PLAIN = "text/plain; charset=utf-8"


def error(status, reason=None, headers=None, close=False):
    resp = web.Response(status=status, body=oe.error_body(status, reason),
                        headers={"Content-Type": PLAIN, **(headers or {})})
    if close:  # the head was refused: what follows it cannot be trusted
        resp.force_close()
    return resp


def head_too_large(request):
    """aiohttp limits each line (8190 bytes) but not the head as a whole."""
    size = len(request.method) + len(request.raw_path) + 14
    size += sum(len(k) + len(v) + 4 for k, v in request.raw_headers)
    return size > oe.MAX_HEAD


def refuse(request):
    """A 400, 405 or 431 for the request, or None to serve it."""
    if request.version.major != 1:  # aiohttp's parser takes any HTTP/x.y
        return error(400, close=True)
    if request.method not in ("GET", "HEAD"):
        # Our own 405: aiohttp's router would write the list as "GET,HEAD".
        return error(405, headers={"Allow": "GET, HEAD"})
    if head_too_large(request):
        return error(431, close=True)
    return None


def workload_handler(wl_request, db):
    async def handle(request):
        # aiohttp does not say when the request's bytes arrived: the queue
        # phase starts here and is about 0.
        arrival = time.perf_counter_ns()
        refused = refuse(request)
        if refused is not None:  # (a response is a mapping: an empty one is false)
            return refused
        try:
            r = await oe.run_steps_async(wl_request, db, arrival)
        except oe.DbError as e:
            return error(e.status, e.reason)
        return web.Response(body=r.body, headers={"Content-Type": r.content_type,
                                                  "Server-Timing": r.timing})
    return handle


async def plaintext(request):
    refused = refuse(request)
    if refused is not None:
        return refused
    return web.Response(body=b"Hello, World!", headers={"Content-Type": "text/plain"})


async def not_found(request):
    refused = refuse(request)  # a method other than GET and HEAD is 405 anywhere
    return refused if refused is not None else error(404)


# ---- PostgreSQL, with asyncpg ----

# Types whose text is the value (overlap's C engines pass any type they do
# not convert as PostgreSQL's text of it): asyncpg would decode these to
# dates, UUIDs, dicts, bytes... A text codec keeps them as PostgreSQL writes
# them. (Arrays, ranges and composites cannot take one: they come out
# as pg_text writes asyncpg's value.)
_AS_TEXT = ("date", "time", "timetz", "timestamp", "timestamptz", "interval", "uuid",
            "json", "jsonb", "bytea", "inet", "cidr", "macaddr", "money")

_RECORD = 2249  # an anonymous ROW(...): asyncpg calls it scalar


def pg_text(v):
    """PostgreSQL's text of an array or a record asyncpg decoded, near
    enough (`{1,2}`, `{"a b",NULL}`, `(1,x)`); anything else as str."""
    if isinstance(v, list):
        return "{" + ",".join(_element(x, "NULL", '{},"\\ \t\n') for x in v) + "}"
    if isinstance(v, (tuple, asyncpg.Record)):
        return "(" + ",".join(_element(x, "", '(),"\\ \t\n') for x in v) + ")"
    return str(v)


def _element(x, null, special):
    if x is None:
        return null
    if isinstance(x, bool):
        return "t" if x else "f"
    if isinstance(x, list):  # a dimension of the array: not quoted
        return pg_text(x)
    text = pg_text(x)
    if text == "" or text.upper() == "NULL" or any(c in special for c in text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def asyncpg_dsn(uri):
    """The URI as asyncpg reads it. libpq takes `bench@:5432` (a port, no
    host) with the host in the query string (`?host=/socket/folder`, as
    overlap pg writes it); asyncpg 0.27 reads an empty host name there and
    then ignores the query's host. The port moves to the query string."""
    u = urllib.parse.urlsplit(uri)
    auth, at, hostport = u.netloc.rpartition("@")
    if not hostport.startswith(":"):
        return uri
    query = "&".join(filter(None, (u.query, "port=" + hostport[1:])))
    return urllib.parse.urlunsplit((u.scheme, auth + at, u.path, query, u.fragment))


class AsyncPg:
    """A pool of exactly n asyncpg connections, all opened at start, each
    with the workload's statements and the pg_sleep prepared on it.

    asyncpg's own Pool would do most of this, but it opens a connection it
    lost only when a request next asks for it, runs a reset query on every
    release (an extra round trip, counted as a call), and keeps no pause
    between failed attempts. Here each connection has a task that opens it,
    hands it to the pool, and opens it again when it dies, pausing longer
    after each failed attempt: the pool stays at n whenever PostgreSQL
    lets it. A request takes a connection for its query (the pg_sleep, then
    the statement: asyncpg has no pipelining, so two round trips) and gives
    it back. While none is up, requests get 503 at once."""

    def __init__(self, uri, workload, n):
        self.uri, self.workload, self.n = uri, workload, n
        self.free = []                       # open connections, idle
        self.waiting = collections.deque()   # futures of requests waiting for one
        self.up = 0                          # open connections, idle or busy
        self.tasks = []
        self.settling = set()                # tasks of _settle

    async def start(self):
        """Opens the n connections (or tries once each: the tasks go on)."""
        firsts = [asyncio.Event() for _ in range(self.n)]
        self.tasks = [asyncio.get_running_loop().create_task(self._keep(f)) for f in firsts]
        await asyncio.gather(*(f.wait() for f in firsts))

    async def close(self):
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _open(self):
        conn = await asyncpg.connect(asyncpg_dsn(self.uri), timeout=oe.CONNECT_TIMEOUT,
                                     connection_class=_PgConnection)
        try:
            # Cells converted from their text, as overlap's libpq clients
            # do (the ints are exact in binary too).
            for oid, name in ((16, "bool"), (700, "float4"), (701, "float8"),
                              (1700, "numeric")):
                await conn.set_type_codec(name, schema="pg_catalog", encoder=str,
                                          decoder=oe.PG_CONVERT[oid], format="text")
            for name in _AS_TEXT:
                await conn.set_type_codec(name, schema="pg_catalog", encoder=str,
                                          decoder=str, format="text")
            # Prepared once on this connection, reused by every query.
            conn.statements = [await conn.prepare(q.sql) for q in self.workload.queries]
            conn.sleep = await conn.prepare(oe.PG_SLEEP_SQL)
            # asyncpg prepares without a Sync: until one comes, the backend
            # sits in an open implicit transaction, `active`. A pg_sleep(0)
            # brings it (and is not counted as a call of the workload's).
            await conn.sleep.fetch(0.0)
            # Per statement, the columns asyncpg decodes to lists or records.
            conn.texts = [[i for i, a in enumerate(st.get_attributes())
                           if a.type.kind != "scalar" or a.type.oid == _RECORD]
                          for st in conn.statements]
        except BaseException:
            conn.terminate()
            raise
        return conn

    async def _keep(self, first):
        pause = oe.RETRY_MIN
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn = await self._open()
            except (OSError, asyncio.TimeoutError, asyncpg.PostgresError,
                    asyncpg.InterfaceError) as e:
                if not first.is_set():
                    print(f"postgres: cannot connect: {e}", flush=True)
                first.set()
                await asyncio.sleep(pause)
                pause = min(pause * 2, oe.RETRY_MAX)
                continue
            pause = oe.RETRY_MIN
            closed = loop.create_future()
            conn.add_termination_listener(
                lambda _: closed.done() or closed.set_result(None))
            self.up += 1
            self._give(conn)
            first.set()
            try:
                await closed
            finally:
                conn.terminate()
                self.up -= 1
                if self.up == 0:  # nothing will come: the waiting get 503
                    while self.waiting:
                        fut = self.waiting.popleft()
                        if not fut.done():
                            fut.set_exception(oe.unreachable())

    def _give(self, conn):
        if conn.is_closed():
            return  # its task opens another
        while self.waiting:
            fut = self.waiting.popleft()
            if not fut.done():
                fut.set_result(conn)
                return
        self.free.append(conn)

    async def _take(self, left):
        while self.free:
            conn = self.free.pop()
            if not conn.is_closed():
                return conn
        if self.up == 0:
            raise oe.unreachable()
        fut = asyncio.get_running_loop().create_future()
        self.waiting.append(fut)
        try:
            return await asyncio.wait_for(fut, left)
        except asyncio.TimeoutError:
            raise oe.DbError(504, "database timed out") from None

    async def query(self, q):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + oe.DB_TIMEOUT
        conn = await self._take(oe.DB_TIMEOUT)
        done = False  # whether the connection is ready for the next query
        lost = False  # whether it is gone, or in a state no query may follow
        try:
            wait = q.wait()
            if wait > 0:
                await conn.sleep.fetch(wait, timeout=max(deadline - loop.time(), 0.001))
            rows = await conn.statements[q.index].fetch(
                *q.values(), timeout=max(deadline - loop.time(), 0.001))
            done = True
        except asyncio.TimeoutError:
            raise oe.DbError(504, "database timed out") from None
        except asyncpg.DataError as e:  # a parameter it cannot send
            done = True
            raise oe.DbError(500, oe.pg_message(str(e))) from None
        except asyncpg.PostgresError as e:
            status = oe.pg_status(e.sqlstate)
            message = oe.pg_message(e.args[0] if e.args else str(e))
            if status == 503:  # its backend ended (57P01...): the connection is lost too
                lost = True
            else:
                done = True
            raise oe.DbError(status, message) from None
        except (OSError, asyncpg.InterfaceError, asyncpg.exceptions._base.InternalClientError):
            lost = True  # asyncpg's own state is no longer to be trusted either
            raise oe.unreachable() from None
        finally:
            if lost:
                conn.terminate()  # its task opens another
            elif done:
                self._give(conn)
            elif not conn.is_closed():  # timed out, or the request was canceled
                task = loop.create_task(self._settle(conn))
                self.settling.add(task)
                task.add_done_callback(self.settling.discard)
        rows = [list(r) for r in rows]
        for c in conn.texts[q.index]:
            for row in rows:
                row[c] = pg_text(row[c])
        return rows

    async def _settle(self, conn):
        """Gives back a connection whose query was stopped midway (on its
        deadline, or with its request) once PostgreSQL has answered the
        cancel asyncpg sent it, as asyncpg's own pool waits for it (asyncpg
        refuses another query until then). Dropping it instead would leave
        its backend running the query, past the budget, until it ends."""
        try:
            await asyncio.wait_for(conn._protocol._wait_for_cancellation(), oe.DB_TIMEOUT)
        except Exception:
            conn.terminate()  # its task opens another
        else:
            self._give(conn)


if asyncpg is not None:
    class _PgConnection(asyncpg.Connection):
        """A connection with its prepared statements beside it."""
        statements = sleep = texts = None


async def serve(args, host, port):
    wl = oe.Workload(args.workload)
    if oe.is_postgres(args.db):
        db = AsyncPg(args.db, wl, args.db_connections)
        await db.start()
    else:
        db = oe.AsyncDb(args.db, args.db_conns)
        db.start()

    app = web.Application()
    for r in wl.requests:
        app.router.add_route("*", r.path, workload_handler(r, db))
    app.router.add_route("*", "/plaintext", plaintext)
    app.router.add_route("*", "/{path:.*}", not_found)  # after the others: it takes any path
    # Lines over 8190 bytes are refused with 400; head_too_large takes the rest.
    runner = web.AppRunner(app, handle_signals=False, access_log=None,
                           max_line_size=8190, max_field_size=8190)
    await runner.setup()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=BACKLOG)
    site = web.SockSite(runner, sock, backlog=BACKLOG, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await site.start()
    oe.announce(sock)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    # SIGTERM ends the process within 2 s whatever is still under way: the
    # requests get SHUTDOWN_TIMEOUT, the database's tasks what is left.
    try:
        await asyncio.wait_for(runner.cleanup(), SHUTDOWN_TIMEOUT + 0.3)
        await asyncio.wait_for(db.close(), 0.5)
    except asyncio.TimeoutError:
        print("stopping: requests or connections still busy, left behind", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--listen", required=True, help="HOST:PORT (port 0: any)")
    p.add_argument("--db", required=True,
                   help="overlap db's unix:/PATH or tcp:HOST:PORT, or a postgresql:// URI")
    p.add_argument("--workload", required=True, help="the workload as JSON")
    p.add_argument("--db-conns", type=int, default=4, help="connections to overlap db")
    p.add_argument("--db-connections", type=int, default=4,
                   help="connections to PostgreSQL, all opened at start")
    p.add_argument("--uvloop", action="store_true", help="run on uvloop")
    args = p.parse_args()
    try:
        host, port = oe.parse_listen(args.listen)
        if not oe.is_postgres(args.db):
            oe.parse_db_address(args.db)
    except ValueError as e:
        oe.fail(e)
    if oe.is_postgres(args.db) and asyncpg is None:
        oe.fail("PostgreSQL needs asyncpg (Debian's python3-asyncpg)")
    if args.db_connections < 1:
        oe.fail("--db-connections must be at least 1")
    if args.uvloop:
        import uvloop
        uvloop.install()
    asyncio.run(serve(args, host, port))


if __name__ == "__main__":
    main()

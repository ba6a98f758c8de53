"""An overlap engine in Python's event-loop style: aiohttp on asyncio's loop
(or uvloop's, with --uvloop), one process, one thread. Queries are
multiplexed over a few database connections; a cpu step runs on the loop's
thread and holds every other request back while it burns, which is what a
single event loop does with CPU work."""

import argparse
import asyncio
import signal
import socket
import time

from aiohttp import web

import overlap_engine as oe

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


async def serve(args, host, port):
    wl = oe.Workload(args.workload)
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
    await runner.cleanup()
    await db.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--listen", required=True, help="HOST:PORT (port 0: any)")
    p.add_argument("--db", required=True, help="unix:/PATH or tcp:HOST:PORT")
    p.add_argument("--workload", required=True, help="the workload as JSON")
    p.add_argument("--db-conns", type=int, default=4, help="database connections")
    p.add_argument("--uvloop", action="store_true", help="run on uvloop")
    args = p.parse_args()
    try:
        host, port = oe.parse_listen(args.listen)
        oe.parse_db_address(args.db)
    except ValueError as e:
        oe.fail(e)
    if args.uvloop:
        import uvloop
        uvloop.install()
    asyncio.run(serve(args, host, port))


if __name__ == "__main__":
    main()

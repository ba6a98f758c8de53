"""Tests of overlap_engine.py, standard library only:
/usr/bin/python3 -m unittest test_overlap_engine (run in this folder).

The PostgreSQL clients of the servers are tried on a live server too when
OVERLAP_PG holds its URI (`overlap pg`'s listening line; the role must be
allowed two more connections); without it those tests say why they skip."""

import asyncio
import importlib
import json
import os
import random
import socket
import struct
import sys
import tempfile
import threading
import unittest

import overlap_engine as oe

# The query and the answer of db/PROTOCOL.md's example.
EXAMPLE_QUERY = bytes.fromhex("00000012 01 00000007 0000 0001 01000000000000002a")
EXAMPLE_ANSWER = bytes.fromhex("00000020 02 00000007 00 00000002 00000001"
                               "01000000000000002a 0100000000000000bd")


def result_frame(tag, rows):
    """A result frame of int rows."""
    values = b"".join(struct.pack(">Bq", 1, v) for row in rows for v in row)
    body = struct.pack(">BII", 0, len(rows[0]) if rows else 0, len(rows)) + values
    return struct.pack(">IBI", 5 + len(body), 2, tag) + body


def error_frame(tag, status, message):
    body = struct.pack(">BH", status, len(message)) + message
    return struct.pack(">IBI", 5 + len(body), 3, tag) + body


class FakeDb:
    """A database on a Unix socket that answers each query with what
    respond(tag, connection number) returns (bytes, or None to hang up)."""

    def __init__(self, folder, respond):
        self.path = os.path.join(folder, "db.sock")
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(self.path)
        self.listener.listen()
        self.respond, self.conns = respond, 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            conn, _ = self.listener.accept()
            self.conns += 1
            threading.Thread(target=self.answer, args=(conn, self.conns), daemon=True).start()

    def answer(self, conn, n):
        with conn, conn.makefile("rb") as f:
            while head := f.read(4):
                frame = f.read(struct.unpack(">I", head)[0])
                reply = self.respond(struct.unpack_from(">I", frame, 1)[0], n)
                if reply is None:
                    return
                conn.sendall(reply)


def workload(tmp, spec):
    path = os.path.join(tmp, "w.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    return oe.Workload(path)


SPEC = {"workload": "t",
        "queries": [{"name": "world", "params": [{"kind": "int", "value": 42}]},
                    {"name": "draw", "params": [{"kind": "int", "lo": 1, "hi": 3},
                                                {"kind": "real", "value": 2.5},
                                                {"kind": "text", "value": "é"},
                                                {"kind": "null"}]}],
        "requests": [{"name": "home", "path": "/home", "render": "json", "weight": 1,
                      "steps": [{"cpu_ns": 1000}, {"query": 0}]},
                     {"name": "page", "path": "/page", "render": "html", "weight": 1,
                      "steps": [{"query": 0}]}]}


class WithWorkload(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.wl = workload(self.tmp.name, SPEC)


class Protocol(WithWorkload):
    def test_query_frame_is_the_protocol_example(self):
        self.assertEqual(self.wl.queries[0].frame(7), EXAMPLE_QUERY)

    def test_answer_is_decoded(self):
        self.assertEqual(oe.decode_answer(2, EXAMPLE_ANSWER[9:]), [[42, 189]])

    def test_errors_become_statuses(self):
        for status, http in ((7, 503), (4, 500), (2, 500)):
            with self.assertRaises(oe.DbError) as e:
                oe.decode_answer(3, error_frame(1, status, b"why")[9:])
            self.assertEqual((e.exception.status, e.exception.reason), (http, "why"))

    def test_params_are_typed_and_drawn_in_range(self):
        seen = set()
        for _ in range(200):
            frame = self.wl.queries[1].frame(1)
            kind, value = struct.unpack_from(">Bq", frame, 13)
            self.assertEqual(kind, 1)
            seen.add(value)
            self.assertEqual(frame[22:], struct.pack(">Bd", 2, 2.5) + b"\x03\0\0\0\x02\xc3\xa9\0")
        self.assertEqual(seen, {1, 2, 3})


class Rendering(WithWorkload):
    def test_json_is_compact(self):
        body = oe.render_json(self.wl.requests[0], [("world", [[1, 0.1, None, 'a"b']])])
        self.assertEqual(body, b'{"request":"home","results":[{"query":"world",'
                               b'"rows":[[1,0.1,null,"a\\"b"]]}]}')

    def test_html_is_escaped_byte_for_byte(self):
        body = oe.render_html(self.wl.requests[1],
                              [("world", [["<&>\"'", 0.1, None, 7]]), ("none", [])])
        self.assertEqual(body, b"<!DOCTYPE html><html><head><title>page</title></head><body>"
                               b"<table><caption>world</caption><tr><td>&lt;&amp;&gt;&quot;&#39;"
                               b"</td><td>0.10000000000000001</td><td></td><td>7</td></tr>"
                               b"</table><table><caption>none</caption></table></body></html>")

    def test_server_timing(self):
        timing = oe.server_timing(self.wl.requests[0], [16400, 536000, 10435600], 520499)
        self.assertEqual(timing, "queue;dur=0.016, cpu;dur=0.536, db;dur=10.436, "
                                 "cpu-time;dur=0.520")
        self.assertEqual(oe.server_timing(self.wl.requests[1], [0, 2000000], 0),
                         "queue;dur=0.000, db;dur=2.000")


class Clients(WithWorkload):
    def test_blocking_skips_stale_answers_and_reconnects(self):
        # The first connection answers a stale tag, then the right one, then
        # hangs up on the next query: that one is sent again on a new one.
        def respond(tag, conn):
            if conn == 1 and tag == 1:
                return result_frame(99, [[0]]) + result_frame(tag, [[1]])
            return None if conn == 1 else result_frame(tag, [[conn]])
        db = oe.BlockingDb("unix:" + FakeDb(self.tmp.name, respond).path)
        self.assertEqual(db.query(self.wl.queries[0]), [[1]])
        self.assertEqual(db.query(self.wl.queries[0]), [[2]])

    def test_blocking_unreachable(self):
        db = oe.BlockingDb("unix:" + os.path.join(self.tmp.name, "nothing"))
        with self.assertRaises(oe.DbError) as e:
            db.query(self.wl.queries[0])
        self.assertEqual(e.exception.status, 503)

    def test_async_answers_out_of_order(self):
        held = {}

        def respond(tag, conn):  # answers each pair of queries in reverse
            held[tag] = result_frame(tag, [[tag]])
            return b"".join(held.pop(t) for t in sorted(held, reverse=True)) \
                if len(held) == 2 else b""

        async def run():
            db = oe.AsyncDb("unix:" + FakeDb(self.tmp.name, respond).path, 1)
            db.start()
            while db._pick() is None:
                await asyncio.sleep(0.01)
            query = self.wl.queries[0]
            answers = await asyncio.gather(db.query(query), db.query(query))
            await db.close()
            return answers
        self.assertEqual(asyncio.run(run()), [[[1]], [[2]]])


PG_SPEC = {"workload": "t",
           "queries": [{"name": "world", "sql": "SELECT id FROM World WHERE id = $1::int8",
                        "params": [{"kind": "int", "lo": 5, "hi": 7}, {"kind": "real", "value": 2.5},
                                   {"kind": "text", "value": "x"}, {"kind": "null"}],
                        "latency_ms": [0, 10, 2.5]},
                       {"name": "old", "params": []}],
           "requests": []}


class PostgresShared(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.wl = workload(tmp.name, PG_SPEC)

    def test_addresses(self):
        for addr in ("postgresql://bench@:5432/postgres?host=/tmp/x", "postgres://h/db"):
            self.assertTrue(oe.is_postgres(addr))
        for addr in ("unix:/tmp/db.sock", "tcp:127.0.0.1:5000"):
            self.assertFalse(oe.is_postgres(addr))

    def test_values_are_drawn_per_execution(self):
        q = self.wl.queries[0]
        self.assertEqual(q.sql, PG_SPEC["queries"][0]["sql"])
        seen = set()
        for _ in range(200):
            v = q.values()
            seen.add(v[0])
            self.assertEqual(v[1:], [2.5, "x", None])
            self.assertIs(type(v[0]), int)
        self.assertEqual(seen, {5, 6, 7})

    def test_wait_is_a_draw_of_the_list_in_seconds(self):
        q = self.wl.queries[0]
        random.seed(1)
        draws = [q.wait() for _ in range(600)]
        self.assertEqual(set(draws), {0, 0.01, 0.0025})
        for w in (0, 0.01, 0.0025):  # equally likely: about 200 each
            self.assertTrue(140 < draws.count(w) < 260, draws.count(w))
        self.assertEqual(self.wl.queries[1].wait(), 0)  # no latency_ms: no sleep

    def test_ints_are_exact_past_2_to_the_53(self):
        self.assertEqual(oe.pg_int("9007199254740993"), 9007199254740993)
        self.assertEqual(oe.pg_int("-9223372036854775808"), -2**63)
        body = oe.render_json(Request("r"), [("q", [[oe.pg_int("9007199254740993")]])])
        self.assertIn(b"[[9007199254740993]]", body)

    def test_numeric_whole_is_an_int_else_a_real(self):
        self.assertEqual(repr(oe.pg_numeric("12345")), "12345")
        self.assertEqual(repr(oe.pg_numeric("-9223372036854775808")), "-9223372036854775808")
        self.assertEqual(repr(oe.pg_numeric("1.50")), "1.5")
        self.assertEqual(repr(oe.pg_numeric("5.00")), "5.0")  # the C engines: no point, not whole
        self.assertEqual(repr(oe.pg_numeric("99999999999999999999")), "1e+20")  # past int64
        self.assertEqual(repr(oe.pg_numeric("1e3")), "1000.0")
        for text in ("NaN", "Infinity", "-Infinity"):
            self.assertIsNone(oe.pg_numeric(text))

    def test_reals_bools_and_the_rest(self):
        self.assertEqual(oe.pg_real("0.1"), 0.1)  # a float4's text, as strtod reads it
        self.assertEqual(oe.pg_real("-2.25"), -2.25)
        self.assertIsNone(oe.pg_real("NaN"))
        self.assertIsNone(oe.pg_real("-Infinity"))
        self.assertEqual((oe.pg_bool("t"), oe.pg_bool("f")), (1, 0))
        self.assertEqual(oe.PG_CONVERT[16], oe.pg_bool)
        for oid in (20, 21, 23, 26):
            self.assertEqual(oe.PG_CONVERT[oid], oe.pg_int)
        self.assertEqual(oe.PG_CONVERT[1700], oe.pg_numeric)
        self.assertEqual({700, 701} & set(oe.PG_CONVERT), {700, 701})
        self.assertNotIn(1082, oe.PG_CONVERT)  # date: its text

    def test_errors_become_statuses(self):
        for state in ("08006", "08001", "57P01", "57P02", "57P03", "53300", None, ""):
            self.assertEqual(oe.pg_status(state), 503, state)
        self.assertEqual(oe.pg_status("57014"), 504)
        for state in ("22003", "42P01", "42601", "53200", "57000"):
            self.assertEqual(oe.pg_status(state), 500, state)

    def test_messages_on_one_line(self):
        self.assertEqual(oe.pg_message("relation \"x\"\n\tdoes  not exist \n"),
                         'relation "x" does not exist')
        self.assertEqual(oe.pg_message(""), "unknown error")


class Request:
    """The little of a workload request render_json reads."""

    def __init__(self, name):
        self.name = name


def _engine(name, env=None):
    """The server module name, or None when its packages are missing."""
    os.environ.update(env or {})
    try:
        return importlib.import_module(name)
    except ImportError as e:
        print(f"\n{name}: not importable here ({e})", file=sys.stderr)
        return None


class PostgresDrivers(unittest.TestCase):
    def test_asyncpg_reads_libpq_uris(self):
        m = _engine("python_asyncio")
        if m is None:
            self.skipTest("aiohttp missing")
        self.assertEqual(m.asyncpg_dsn("postgresql://bench@:5432/postgres?host=/tmp/x"),
                         "postgresql://bench@/postgres?host=/tmp/x&port=5432")
        self.assertEqual(m.asyncpg_dsn("postgresql://bench@:5432/postgres"),
                         "postgresql://bench@/postgres?port=5432")
        uri = "postgresql://u@h:5433/db?sslmode=disable"
        self.assertEqual(m.asyncpg_dsn(uri), uri)

    def test_psycopg_takes_the_sql_back_as_it_was(self):
        with tempfile.TemporaryDirectory() as tmp:
            m = _engine("python_threads", {"OVERLAP_WORKLOAD": workload_file(tmp, PG_SPEC),
                                           "OVERLAP_DB": "unix:/nothing"})
        if m is None:
            self.skipTest("gunicorn missing")
        self.assertEqual(m.psycopg_sql("SELECT a % 2 FROM t WHERE a = $1::int8 AND b = $2"),
                         "SELECT a %% 2 FROM t WHERE a = %s::int8 AND b = %s")
        with self.assertRaises(ValueError):
            m.psycopg_sql("SELECT $2, $1")


def workload_file(tmp, spec):
    path = os.path.join(tmp, "w.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    return path


# A query with a cell of every kind the C engines convert, and the JSON
# values they make of them.
LIVE_SQL = ("SELECT 9007199254740993::int8, 7::int2, 26::oid, 12::numeric, 1.50::numeric,"
            " 99999999999999999999::numeric, true, false, 0.1::float4, -2.25::float8,"
            " 'NaN'::float8, NULL::text, $1::text, DATE '2020-01-02', $2::int8 + 1")
LIVE_ROW = [9007199254740993, 7, 26, 12, 1.5, 1e20, 1, 0, 0.1, -2.25, None, None, "é",
            "2020-01-02", 8]
LIVE_SPEC = {"workload": "live",
             "queries": [{"name": "kinds", "sql": LIVE_SQL,
                          "params": [{"kind": "text", "value": "é"},
                                     {"kind": "int", "lo": 7, "hi": 7}],
                          "latency_ms": [5]},
                         {"name": "bad", "sql": "SELECT abs(-9223372036854775807 - 1)",
                          "params": [], "latency_ms": [0]}],
             "requests": []}


def _live_uri(test):
    uri = os.environ.get("OVERLAP_PG", "")
    if not uri:
        why = "no PostgreSQL to try: set OVERLAP_PG to overlap pg's URI to run it"
        print(f"\nSKIPPED {test.id()}: {why}", file=sys.stderr)
        test.skipTest(why)
    return uri


async def failure(awaitable):
    """The DbError awaitable raises (None if it does not)."""
    try:
        await awaitable
    except oe.DbError as e:
        return e
    return None


class PostgresLive(unittest.TestCase):
    def setUp(self):
        self.uri = _live_uri(self)
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.path = workload_file(tmp.name, LIVE_SPEC)
        self.wl = oe.Workload(self.path)

    def check(self, rows, bad):
        """The rows of the query of every kind, and the bad query's error."""
        self.assertEqual(rows, [LIVE_ROW])
        self.assertIsInstance(bad, oe.DbError)
        self.assertEqual((bad.status, bad.reason), (500, "bigint out of range"))

    def test_asyncpg(self):
        m = _engine("python_asyncio")
        if m is None or m.asyncpg is None:
            self.skipTest("asyncpg missing")

        async def run():
            db = m.AsyncPg(self.uri, self.wl, 1)
            await db.start()
            if db.up != 1:
                await db.close()
                self.skipTest(f"cannot connect to {self.uri}")
            try:
                return await db.query(self.wl.queries[0]), await failure(db.query(self.wl.queries[1]))
            finally:
                await db.close()
        self.check(*asyncio.run(run()))

    def test_psycopg(self):
        m = _engine("python_threads", {"OVERLAP_WORKLOAD": self.path,
                                       "OVERLAP_DB": "unix:/nothing"})
        if m is None or m.psycopg is None:
            self.skipTest("psycopg missing")
        db = m.ThreadPg(self.uri, self.wl, 1)
        if db.up != 1:
            self.skipTest(f"cannot connect to {self.uri}")
        try:
            db.query(self.wl.queries[1])
            bad = None
        except oe.DbError as e:
            bad = e
        self.check(db.query(self.wl.queries[0]), bad)
        with db.cond:
            conn = db.free.pop()
        conn.close()


if __name__ == "__main__":
    unittest.main()

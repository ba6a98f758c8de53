"""Tests of overlap_engine.py, standard library only:
/usr/bin/python3 -m unittest test_overlap_engine (run in this folder)."""

import asyncio
import json
import os
import socket
import struct
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


if __name__ == "__main__":
    unittest.main()

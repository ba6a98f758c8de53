'use strict';
// The db protocol's client (db/PROTOCOL.md), as an event loop uses it: a few
// connections, each carrying many tagged queries at once, answered in any
// order. Frames are `length:u32 kind:u8 tag:u32 body`, big-endian.
const net = require('net');

const KIND_QUERY = 1;
const KIND_RESULT = 2;
const KIND_ERROR = 3;
const MAX_QUERY_FRAME = 65536; // client to server, the length field included
const MAX_FRAME = 1048576; // server to client
const UNAVAILABLE = 7;
const TIMEOUT_MS = 5000;
const BACKOFF_MIN_MS = 50;
const BACKOFF_MAX_MS = 1000;
const CONNECT_TIMEOUT_MS = 2000;

// A failed query, carrying the HTTP status the request answers with.
class DbError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// A 64-bit int from the wire: a Number when it is exact as one, otherwise the
// BigInt, which the renderers print digit for digit (never rounded to a double).
function int64(b, o) {
  const v = b.readBigInt64BE(o);
  return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
}

// A query frame. Parameters are typed by their JS type: null, BigInt (int),
// Number (real), Buffer (text).
function encodeQuery(tag, query, params) {
  let size = 4 + 1 + 4 + 2 + 2;
  for (const p of params)
    size += 1 + (p === null ? 0 : Buffer.isBuffer(p) ? 4 + p.length : 8);
  if (size > MAX_QUERY_FRAME) throw new DbError(500, 'query frame over 65536 bytes');
  const b = Buffer.allocUnsafe(size);
  let o = b.writeUInt32BE(size - 4, 0);
  o = b.writeUInt8(KIND_QUERY, o);
  o = b.writeUInt32BE(tag, o);
  o = b.writeUInt16BE(query, o);
  o = b.writeUInt16BE(params.length, o);
  for (const p of params) {
    if (p === null) {
      o = b.writeUInt8(0, o);
    } else if (typeof p === 'bigint') {
      o = b.writeUInt8(1, o);
      o = b.writeBigInt64BE(p, o);
    } else if (typeof p === 'number') {
      o = b.writeUInt8(2, o);
      o = b.writeDoubleBE(p, o);
    } else {
      o = b.writeUInt8(3, o);
      o = b.writeUInt32BE(p.length, o);
      o += p.copy(b, o);
    }
  }
  return b;
}

// A result body (after kind and tag): { ncols, rows }, each row an array of
// null, Number, BigInt (an int beyond 2^53) or Buffer (text, raw bytes: the
// JSON renderer decodes them as UTF-8, the HTML one keeps them byte for byte).
// Throws on a body that does not hold what it says (a read past its end
// throws RangeError): framing is then lost.
function decodeResult(f) {
  let o = 5;
  if (f.length < o + 9 || f[o] !== 0) throw new Error('bad result header');
  const ncols = f.readUInt32BE(o + 1);
  const nrows = f.readUInt32BE(o + 5);
  o += 9;
  const rows = [];
  for (let r = 0; r < nrows; r++) {
    const row = new Array(ncols);
    for (let c = 0; c < ncols; c++) {
      const type = f[o++];
      if (type === 0) {
        row[c] = null;
      } else if (type === 1) {
        row[c] = int64(f, o);
        o += 8;
      } else if (type === 2) {
        row[c] = f.readDoubleBE(o);
        o += 8;
      } else if (type === 3) {
        const len = f.readUInt32BE(o);
        o += 4;
        if (o + len > f.length) throw new Error('text beyond the frame');
        row[c] = f.subarray(o, o + len);
        o += len;
      } else {
        throw new Error(`unknown value type ${type}`);
      }
    }
    rows.push(row);
  }
  if (o !== f.length) throw new Error('values short of the frame');
  return { ncols, rows };
}

// One connection: its socket, the frame reader's pieces and the queries in
// flight on it (tag -> { resolve, reject, timer }).
class Conn {
  constructor(client) {
    this.client = client;
    this.up = false;
    this.nextTag = 0;
    this.pending = new Map();
    this.backoff = BACKOFF_MIN_MS;
    this.open();
  }

  open() {
    this.chunks = [];
    this.have = 0;
    const sock = (this.sock = net.connect(this.client.addr));
    sock.setNoDelay(true);
    // A connect that hangs (a TCP peer gone silent) is given up after a
    // while, so that the connection is tried again rather than down for good.
    sock.setTimeout(CONNECT_TIMEOUT_MS, () => sock.destroy());
    sock.on('connect', () => {
      sock.setTimeout(0); // idle is fine once connected: answers take their time
      this.up = true;
      this.backoff = BACKOFF_MIN_MS;
    });
    sock.on('data', (d) => this.onData(d));
    sock.on('error', () => {}); // 'close' follows and does the work
    sock.on('close', () => this.onClose());
  }

  // Frames may arrive split across 'data' events or several in one: pieces
  // are kept until a whole frame is there, then joined once.
  onData(d) {
    this.chunks.push(d);
    this.have += d.length;
    while (this.have >= 4) {
      if (this.chunks[0].length < 4) this.chunks = [Buffer.concat(this.chunks, this.have)];
      const len = this.chunks[0].readUInt32BE(0);
      if (len < 5 || len + 4 > MAX_FRAME) return this.lost();
      if (this.have < len + 4) return;
      const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.have);
      const rest = all.subarray(len + 4);
      this.chunks = rest.length ? [rest] : [];
      this.have = rest.length;
      if (!this.onFrame(all.subarray(4, len + 4))) return this.lost();
    }
  }

  // One frame; false when it breaks the protocol.
  onFrame(f) {
    const kind = f[0];
    const tag = f.readUInt32BE(1);
    const q = this.pending.get(tag);
    if (kind !== KIND_RESULT && kind !== KIND_ERROR) return false;
    if (!q) return true; // the answer to a query that timed out
    this.pending.delete(tag);
    clearTimeout(q.timer);
    if (kind === KIND_ERROR) {
      const status = f[5];
      const msg = f.length >= 8 ? f.toString('utf8', 8, 8 + f.readUInt16BE(6)) : 'database error';
      q.reject(new DbError(status === UNAVAILABLE ? 503 : 500, msg));
      return true;
    }
    try {
      q.resolve(decodeResult(f));
    } catch (e) {
      q.reject(new DbError(500, `bad result: ${e.message}`));
      return false;
    }
    return true;
  }

  // Framing is lost: drop the connection ('close' fails what was in flight).
  lost() {
    this.up = false; // no query goes out on it before 'close' fails the rest
    this.chunks = [];
    this.have = 0;
    this.sock.destroy();
  }

  // Down: every query in flight here gets 503 now (none waits out its
  // timeout), and the connection is opened again after a backoff.
  onClose() {
    this.up = false;
    this.chunks = [];
    this.have = 0;
    for (const q of this.pending.values()) {
      clearTimeout(q.timer);
      q.reject(new DbError(503, 'database unreachable'));
    }
    this.pending.clear();
    if (this.client.closing) return;
    setTimeout(() => this.open(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
  }

  send(query, params, resolve, reject) {
    let tag;
    do tag = this.nextTag = (this.nextTag + 1) >>> 0;
    while (this.pending.has(tag));
    const frame = encodeQuery(tag, query, params); // throws before anything is pending
    const timer = setTimeout(() => {
      this.pending.delete(tag); // a late answer finds no tag and is dropped
      reject(new DbError(504, 'database timed out'));
    }, TIMEOUT_MS);
    this.pending.set(tag, { resolve, reject, timer });
    this.sock.write(frame);
  }
}

// `unix:/PATH` or `tcp:[HOST:]PORT` (an IPv6 host in brackets; no host is
// 127.0.0.1, as overlap db reads it) as net.connect options.
function parseAddr(s) {
  if (s.startsWith('unix:') && s.length > 5) return { path: s.slice(5) };
  const m = /^tcp:(?:\[?([^\]]*?)\]?:)?(\d+)$/.exec(s);
  if (m) return { host: m[1] || '127.0.0.1', port: Number(m[2]) };
  throw new Error(`bad database address '${s}' (expected unix:/PATH or tcp:[HOST:]PORT)`);
}

class DbClient {
  constructor(addr, nconns) {
    this.addr = parseAddr(addr);
    this.closing = false;
    this.next = 0;
    this.conns = [];
    for (let i = 0; i < nconns; i++) this.conns.push(new Conn(this));
  }

  // Runs query number `query` with `params`; resolves to its rows or rejects
  // with a DbError. Queries go round robin over the connections that are up;
  // with none up, 503 at once.
  query(query, params) {
    return new Promise((resolve, reject) => {
      const n = this.conns.length;
      for (let i = 0; i < n; i++) {
        const c = this.conns[(this.next + i) % n];
        if (!c.up) continue;
        this.next = (this.next + i + 1) % n;
        c.send(query, params, resolve, reject);
        return;
      }
      reject(new DbError(503, 'database unreachable'));
    });
  }

  close() {
    this.closing = true;
    for (const c of this.conns) c.sock.destroy();
  }
}

module.exports = { DbClient, DbError };

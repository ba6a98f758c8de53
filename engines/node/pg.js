'use strict';
// The workload on PostgreSQL, through node-postgres (`pg`), as a Node service
// would run it: a pg.Pool of exactly N clients, all opened at start and kept.
// A query takes a client, sends the latency's pg_sleep and the query's own
// statement back to back (one write, one Sync: one round trip, one implicit
// transaction, as overlap's C engines do with libpq's pipeline mode), and
// gives the client back. Both are prepared statements, parsed once per
// connection. node-postgres is required only here, so the engine needs it
// only on PostgreSQL.
const net = require('net');
const { DbError } = require('./db');

const TIMEOUT_MS = 5000; // a query unanswered by then is 504, and cancelled
const BACKOFF_MIN_MS = 50; // reconnecting after a failed connect
const BACKOFF_MAX_MS = 1000;
const SLEEP_NAME = 'overlap_sleep';
const SLEEP_SQL = 'SELECT pg_sleep($1::float8)'; // the harness leaves out exactly this text
const CANCEL_CODE = 80877102; // a CancelRequest's protocol code (1234 << 16 | 5678)

// pg_type.oid of the types a cell is converted from; any other is its text.
const BOOL = 16, INT8 = 20, INT2 = 21, INT4 = 23, OID = 26, FLOAT4 = 700, FLOAT8 = 701, NUMERIC = 1700;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

// A decimal integer's text as an int: a Number when it is exact as one, else
// the BigInt (printed digit for digit); undefined outside int64.
function int64(s) {
  if (!/^-?\d+$/.test(s)) return undefined;
  const n = Number(s);
  if (Number.isSafeInteger(n)) return n;
  const b = BigInt(s);
  return b >= INT64_MIN && b <= INT64_MAX ? b : undefined;
}

// One cell as overlap's C engines convert it (db/pg_result.c): integers and
// oid as ints, float4/float8 as reals (the double their text reads as),
// numeric as an int when whole and within int64 else a real, bool as 1 or 0,
// NULL as null; anything else, and a cell that does not read as its type, is
// its text (a Buffer, as db.js hands text to the renderers).
function cell(s, type) {
  if (s === null) return null;
  switch (type) {
    case INT2: case INT4: case INT8: case OID: {
      const v = int64(s);
      if (v !== undefined) return v;
      break;
    }
    case NUMERIC: case FLOAT4: case FLOAT8: {
      const v = type === NUMERIC ? int64(s) : undefined;
      if (v !== undefined) return v;
      const x = Number(s); // NaN, Infinity and -Infinity included
      if (s !== '' && (!Number.isNaN(x) || s === 'NaN')) return x;
      break;
    }
    case BOOL:
      if (s === 't' || s === 'f') return s === 't' ? 1 : 0;
      break;
    default:
      break;
  }
  return Buffer.from(s, 'utf8');
}

// A drawn parameter (BigInt int, Number real, Buffer text, null) as the text
// PostgreSQL reads it: a real in JS's shortest form that reads back exact.
function paramText(v) {
  if (v === null) return null;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (typeof v === 'number' && Object.is(v, -0)) return '-0';
  return String(v);
}

// A wait of the workload's latency, in ms, as pg_sleep's seconds (as the C
// engines write it); null for none, when the query goes alone.
function sleepText(ms) {
  return ms > 0 ? (ms / 1000).toFixed(9) : null;
}

// PostgreSQL's primary message on one line, as the C engines write it.
function oneLine(m) {
  return String(m || 'unknown error').replace(/[\n\t]/g, ' ').replace(/ {2,}/g, ' ').replace(/^ | $/g, '') ||
    'unknown error';
}

// True when an error means the database is out of reach rather than the query
// wrong: anything but an ErrorResponse (a socket error, the connection
// closed), a connection exception (class 08), the backend ended (57P01 admin,
// 57P02 crash shutdown, 57P03 cannot connect now) or too many connections.
function unreachable(e) {
  const sqlError = e && e.severity !== undefined && typeof e.code === 'string';
  return !sqlError || /^(08|57P0[123]$|53300$)/.test(e.code);
}

// The HTTP answer for a failed query: 503 out of reach, 500 with PostgreSQL's
// message for the rest.
function httpError(e) {
  return unreachable(e) ? new DbError(503, 'database unreachable') : new DbError(500, oneLine(e.message));
}

// Asks PostgreSQL to cancel what a client's backend is running: a
// CancelRequest on a connection of its own (which no role's limit counts).
// `done` runs once the server has closed it, so the cancel has been
// delivered; a cancel that finds the backend idle is ignored there.
function cancel(client, done) {
  const addr = client.host && client.host.startsWith('/')
    ? { path: `${client.host}/.s.PGSQL.${client.port}` } : { host: client.host, port: client.port };
  const msg = Buffer.alloc(16);
  msg.writeInt32BE(16, 0);
  msg.writeInt32BE(CANCEL_CODE, 4);
  msg.writeInt32BE(client.processID | 0, 8);
  msg.writeInt32BE(client.secretKey | 0, 12);
  const sock = net.connect(addr, () => sock.end(msg));
  sock.setTimeout(TIMEOUT_MS, () => sock.destroy());
  sock.on('error', () => {}); // 'close' follows
  sock.on('close', done);
  sock.resume(); // the server's end is read, so 'close' comes
}

// One execution on one client, as a node-postgres "submittable": the client
// hands it the connection when its turn comes and then the answer's messages
// until ReadyForQuery (or an ErrorResponse, after which PostgreSQL skips to
// the Sync). It sends [Close, Parse] for each statement this connection has
// not yet prepared (Close first: one that failed before may half exist),
// Bind + Execute for the sleep, Bind + Describe + Execute for the query, and
// one Sync, corked into one write. Only the query's rows are the answer (the
// sleep's row comes before any RowDescription); a failed sleep is the answer's
// error. `callback(err, { ncols, rows })` runs once.
class Exchange {
  // (`statement`, not `name`: node-postgres would take that for a Query's.)
  constructor(client, statement, sql, sleep, values, callback) {
    Object.assign(this, { client, statement, sql, sleep, values, callback });
    this.parsing = [];
    this.types = null;
    this.rows = [];
  }

  submit(con) {
    con.stream.cork();
    if (this.sleep !== null) {
      this.prepare(con, SLEEP_NAME, SLEEP_SQL);
      con.bind({ statement: SLEEP_NAME, values: [this.sleep] });
      con.execute({});
    }
    this.prepare(con, this.statement, this.sql);
    con.bind({ statement: this.statement, values: this.values });
    con.describe({ type: 'P' });
    con.execute({});
    con.sync();
    con.stream.uncork();
    return null;
  }

  prepare(con, name, text) {
    if (this.client.prepared.has(name)) return;
    con.close({ type: 'S', name }); // not an error when there is none
    con.parse({ name, text, types: [] }); // typed by the casts in the text
    this.parsing.push(name);
  }

  handleRowDescription(msg) {
    this.types = msg.fields.map((f) => f.dataTypeID);
  }

  handleDataRow(msg) {
    if (this.types) this.rows.push(msg.fields.map((s, i) => cell(s, this.types[i])));
  }

  handleReadyForQuery() {
    for (const name of this.parsing) this.client.prepared.add(name);
    this.finish(null, { ncols: this.types ? this.types.length : 0, rows: this.rows });
  }

  handleError(err) {
    this.finish(err);
  }

  finish(err, result) {
    const cb = this.callback;
    this.callback = null;
    if (cb) cb(err, result);
  }

  handleCommandComplete() {}
  handleEmptyQuery() {}
  handlePortalSuspended() {}
  handleCopyInResponse() {}
  handleCopyData() {}
}

// node-postgres parses a URI with WHATWG's URL, which refuses an empty host
// before a port (`postgresql://bench@:5432/postgres?host=/path`, as overlap
// pg prints it, and libpq reads it); a `host` query parameter, the socket's
// folder, still wins over the name put there.
function withHost(uri) {
  return uri.replace(/^(postgres(?:ql)?:\/\/(?:[^@/]*@)?)(?=:)/, '$1localhost');
}

class PgClient {
  // `uri`: postgresql://...; `n`: the connections to hold; `queries`: the
  // workload's, each { sql, latency_ms }.
  constructor(uri, n, queries) {
    let pg;
    try {
      pg = require('pg');
    } catch (e) {
      throw new Error(`PostgreSQL needs node-postgres (the manifest's build installs it with npm): ${e.message}`);
    }
    this.n = n;
    this.statements = queries.map((q, i) => ({
      name: `q${i}`,
      sql: q.sql,
      waits: (q.latency_ms || []).map(sleepText),
    }));
    if (this.statements.some((s) => typeof s.sql !== 'string'))
      throw new Error('the workload has no "sql" for PostgreSQL');
    this.closing = false;
    this.filling = false;
    this.backoff = BACKOFF_MIN_MS;
    this.retry = null;
    this.inflight = new Set(); // answer() of every query not yet answered
    this.pool = new pg.Pool({
      connectionString: withHost(uri),
      max: n,
      idleTimeoutMillis: 0, // no idle client is closed: the N stay open
      connectionTimeoutMillis: TIMEOUT_MS, // a connect, or a wait for a client, gives up then
    });
    this.pool.on('connect', (client) => {
      client.prepared = new Set(); // the statements this connection holds
      client.on('error', () => {}); // its query fails with the error: that answers
    });
    this.pool.on('error', () => {}); // an idle client lost: the pool drops it
    this.pool.on('remove', () => setImmediate(() => this.fill()));
    this.fill();
  }

  // Opens clients until the pool holds n, then gives them to the pool; after
  // a failed connect, tries again with a backoff. pg.Pool opens a client only
  // when none is idle, so an idle one is held meanwhile.
  fill() {
    if (this.filling || this.closing) return;
    this.filling = true;
    clearTimeout(this.retry);
    const held = [];
    const grow = async () => {
      while (!this.closing && this.pool.totalCount < this.n) {
        const k = this.pool.idleCount > 0 ? 1 : this.n - this.pool.totalCount;
        const got = await Promise.allSettled(Array.from({ length: k }, () => this.pool.connect()));
        for (const g of got) if (g.status === 'fulfilled') held.push(g.value);
        const failed = got.find((g) => g.status === 'rejected');
        if (failed) throw failed.reason;
      }
    };
    grow().then(() => {
      this.backoff = BACKOFF_MIN_MS;
    }, () => {
      if (this.closing) return;
      this.retry = setTimeout(() => this.fill(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
    }).finally(() => {
      for (const c of held) c.release();
      this.filling = false;
    });
  }

  // Runs query number `index` with drawn `params`; resolves to { ncols, rows }
  // or rejects with a DbError. The 5 s count from the ask, a wait for a free
  // client included: then 504, and a query still running is cancelled; its
  // client returns to the pool once it is idle again (or is closed, if even
  // the cancel goes unanswered).
  query(index, params) {
    const st = this.statements[index];
    const sleep = st.waits.length ? st.waits[Math.floor(Math.random() * st.waits.length)] : null;
    const values = params.map(paramText);
    return new Promise((resolve, reject) => {
      let answered = false;
      let abandon = null; // set once a client runs the query
      const answer = (err, result) => {
        if (answered) return;
        answered = true;
        clearTimeout(timer);
        this.inflight.delete(answer);
        if (err) reject(err);
        else resolve(result);
      };
      const timer = setTimeout(() => {
        answer(new DbError(504, 'database timed out'));
        if (abandon) abandon();
      }, TIMEOUT_MS);
      this.inflight.add(answer);
      this.pool.connect((err, client, release) => {
        if (err) return answer(new DbError(503, 'database unreachable'));
        if (answered) return release(); // gave up waiting for it
        let settled = false;
        let onSettled = null;
        client.query(new Exchange(client, st.name, st.sql, sleep, values, (e, result) => {
          settled = true;
          if (onSettled) return onSettled(e);
          release(e && unreachable(e) ? e : undefined); // a lost connection is closed
          answer(e && httpError(e), result);
        }));
        abandon = () => {
          let done = false;
          let cancelled = false;
          const finish = (e) => {
            if (done) return;
            done = true;
            clearTimeout(limit);
            release(e);
          };
          const limit = setTimeout(() => finish(new Error('query not cancelled')), TIMEOUT_MS);
          onSettled = (e) => {
            if (cancelled || (e && unreachable(e))) finish(e && unreachable(e) ? e : undefined);
          };
          cancel(client, () => {
            cancelled = true;
            if (settled) finish();
          });
        };
      });
    });
  }

  // Stopping: every query not yet answered gets 503, and the pool closes.
  close() {
    this.closing = true;
    clearTimeout(this.retry);
    for (const answer of [...this.inflight]) answer(new DbError(503, 'server stopping'));
    this.pool.end().catch(() => {});
  }
}

module.exports = {
  withHost, PgClient, Exchange, cell, paramText, sleepText, oneLine, unreachable, httpError };

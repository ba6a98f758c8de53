'use strict';
// overlap's Node.js engine: the `http` module on one event loop, the way a
// Node service is usually deployed. Database queries are multiplexed over a
// few connections to overlap db (db.js), or go through a pool of N clients on
// PostgreSQL (pg.js), and never hold the loop; cpu steps run on the loop
// thread and hold it, which is the price this architecture pays for them.
//
//   node server.js --listen HOST:PORT --db ADDR --workload FILE.json [--db-conns N]
//                  [--db-connections N]
// --db-conns: overlap db connections (default 4); --db-connections: the
// PostgreSQL connections to hold (default --db-conns), ignored on overlap db.
const http = require('http');
const fs = require('fs');
const { DbClient, DbError } = require('./db');

const MAX_HEAD = 8192;

function usage(msg) {
  process.stderr.write(`server.js: ${msg}\n` +
    'usage: node server.js --listen HOST:PORT --db ADDR --workload FILE.json [--db-conns N]' +
    ' [--db-connections N]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { dbConns: 4 };
  const names = {
    '--listen': 'listen', '--db': 'db', '--workload': 'workload', '--db-conns': 'dbConns',
    '--db-connections': 'pgConns',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const key = names[argv[i]];
    if (!key || i + 1 >= argv.length) usage(`bad argument '${argv[i]}'`);
    opts[key] = argv[i + 1];
  }
  for (const k of ['listen', 'db', 'workload']) if (!opts[k]) usage(`--${k} is required`);
  opts.dbConns = Number(opts.dbConns);
  if (!Number.isInteger(opts.dbConns) || opts.dbConns < 1) usage('--db-conns must be a positive integer');
  opts.pgConns = opts.pgConns === undefined ? opts.dbConns : Number(opts.pgConns);
  if (!Number.isInteger(opts.pgConns) || opts.pgConns < 1) usage('--db-connections must be a positive integer');
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(opts.listen);
  if (!m) usage(`bad --listen '${opts.listen}' (expected HOST:PORT)`);
  opts.host = m[1];
  opts.port = Number(m[2]);
  return opts;
}

// ---- the workload ----

// JSON.parse reads every number as a double, which would round an int
// parameter beyond 2^53; such integer literals (outside strings) are turned
// into strings first, and BigInt() reads both forms exactly.
function parseJsonExact(text) {
  return JSON.parse(text.replace(/"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g, (t) =>
    /^-?\d+$/.test(t) && !Number.isSafeInteger(Number(t)) ? `"${t}"` : t));
}

const TWO64 = 1n << 64n;

// A uniform integer in [lo, hi] (BigInts) from Math.random(): with Number
// arithmetic when the range fits a double exactly, else from 64 random bits,
// drawing again past the last whole multiple of the range (no modulo bias).
function uniformInt(lo, hi) {
  const span = hi - lo + 1n;
  if (span <= 1n << 53n) {
    const n = Number(span);
    return () => lo + BigInt(Math.floor(Math.random() * n));
  }
  const limit = TWO64 - (TWO64 % span);
  const word = () => BigInt(Math.floor(Math.random() * 2 ** 32));
  return () => {
    let r;
    do r = (word() << 32n) | word();
    while (r >= limit);
    return lo + (r % span);
  };
}

// A parameter as a function drawing its value for one execution, typed the
// way db.js encodes it: BigInt int, Number real, Buffer text, null.
function compileParam(p, where) {
  const constant = (v) => () => v;
  if (p.kind === 'int' && p.value !== undefined) return constant(BigInt(p.value));
  if (p.kind === 'int' && p.lo !== undefined && p.hi !== undefined) return uniformInt(BigInt(p.lo), BigInt(p.hi));
  if (p.kind === 'real') return constant(Number(p.value));
  if (p.kind === 'text') return constant(Buffer.from(String(p.value), 'utf8'));
  if (p.kind === 'null') return constant(null);
  throw new Error(`${where}: bad parameter ${JSON.stringify(p)}`);
}

// The workload as routes: path -> { name, render, steps }, each step
// { cpuNs } or { query } (an index into `queries`, each { name, draw }, and
// for PostgreSQL { sql, latency_ms }).
function loadWorkload(file) {
  const wl = parseJsonExact(fs.readFileSync(file, 'utf8'));
  const queries = wl.queries.map((q, i) => ({
    name: q.name,
    htmlName: htmlEscape(Buffer.from(q.name, 'utf8').toString('latin1')),
    draw: (q.params || []).map((p) => compileParam(p, `queries[${i}]`)),
    sql: q.sql,
    latency_ms: (q.latency_ms || []).map(Number),
  }));
  const routes = new Map();
  for (const r of wl.requests) {
    const steps = r.steps.map((s) => {
      if (s.cpu_ns !== undefined) return { cpuNs: Number(s.cpu_ns) };
      if (!(s.query >= 0 && s.query < queries.length))
        throw new Error(`request ${r.name}: bad step ${JSON.stringify(s)}`);
      return { query: s.query };
    });
    routes.set(r.path || `/${r.name}`, {
      name: r.name,
      html: r.render === 'html',
      htmlName: htmlEscape(Buffer.from(r.name, 'utf8').toString('latin1')),
      steps,
    });
  }
  return { queries, routes };
}

// ---- CPU steps ----

// User + system CPU time of the process, in µs. Node 18 and 20 have no clock
// for one thread (process.threadCpuUsage came later), so this is the whole
// process's; the loop thread is the only busy one (libuv's pool is unused and
// V8's helpers mostly idle), so it advances as the loop thread's would.
function cpuUs() {
  const u = process.cpuUsage();
  return u.user + u.system;
}

// Burns ns of CPU on the loop thread, blocking the loop as any synchronous
// work in a Node handler does: a preempted thread still owes the rest.
// Returns the CPU time it took, in ns.
function burn(ns) {
  const start = cpuUs();
  let used = 0;
  while ((used = cpuUs() - start) * 1000 < ns);
  return used * 1000;
}

// ---- bodies ----

function htmlEscape(s) {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

// A double as C's printf("%.17g") writes it, which overlap's C engines use,
// so that HTML pages match them byte for byte (JSON is compared parsed, and
// takes JS's own shortest form).
function g17(x) {
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const [mant, e] = x.toExponential(16).split('e');
  const exp = Number(e);
  if (exp < -4 || exp >= 17) {
    const m = mant.replace(/\.?0+$/, '');
    return `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  const fixed = x.toFixed(16 - exp);
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

// Ints print exactly, whether Number or BigInt (beyond 2^53 the JSON holds
// every digit; a reader that parses it into a double rounds it there, not
// here). Reals JSON cannot hold (inf, nan) are null.
function jsonValue(v) {
  if (v === null) return 'null';
  if (Buffer.isBuffer(v)) return JSON.stringify(v.toString('utf8'));
  if (typeof v === 'number' && !Number.isFinite(v)) return 'null';
  return String(v);
}

// HTML is built as a latin1 string, one char per byte, so text goes out
// with exactly the bytes the database sent, valid UTF-8 or not.
function htmlValue(v) {
  if (v === null) return '';
  if (Buffer.isBuffer(v)) return htmlEscape(v.toString('latin1'));
  if (typeof v === 'number') return Number.isFinite(v) ? g17(v) : '';
  return String(v);
}

function render(route, queries, results) {
  if (route.html) {
    let s = `<!DOCTYPE html><html><head><title>${route.htmlName}</title></head><body>`;
    for (const [q, res] of results) {
      s += `<table><caption>${queries[q].htmlName}</caption>`;
      for (const row of res.rows) s += `<tr>${row.map((v) => `<td>${htmlValue(v)}</td>`).join('')}</tr>`;
      s += '</table>';
    }
    return Buffer.from(`${s}</body></html>`, 'latin1');
  }
  const parts = results.map(([q, res]) => {
    const rows = res.rows.map((row) => `[${row.map(jsonValue).join(',')}]`);
    return `{"query":${JSON.stringify(queries[q].name)},"rows":[${rows.join(',')}]}`;
  });
  return Buffer.from(`{"request":${JSON.stringify(route.name)},"results":[${parts.join(',')}]}`, 'utf8');
}

// ---- responses ----

// Milliseconds with 3 decimals, rounded to the µs.
function ms(msFloat) {
  const us = Math.round(msFloat * 1000);
  return `${Math.floor(us / 1000)}.${String(us % 1000).padStart(3, '0')}`;
}

function errorBody(status, reason) {
  return `${status} ${http.STATUS_CODES[status]}${reason ? `: ${reason}` : ''}\n`;
}

function sendError(req, res, status, reason) {
  const body = errorBody(status, reason);
  const headers = { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) };
  if (status === 405) headers.Allow = 'GET, HEAD';
  res.writeHead(status, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

// Runs a request's steps in order and answers. `arrival` is when Node handed
// the request over; steps start at once, so the queue phase is about 0.
async function serveRequest(wl, db, route, req, res, arrival) {
  const results = [];
  const phases = [];
  let cpuNs = 0;
  let hasCpu = false;
  let mark = performance.now();
  phases.push(`queue;dur=${ms(mark - arrival)}`);
  try {
    for (const step of route.steps) {
      if (step.cpuNs !== undefined) {
        cpuNs += burn(step.cpuNs);
        hasCpu = true;
      } else {
        const q = wl.queries[step.query];
        results.push([step.query, await db.query(step.query, q.draw.map((d) => d()))]);
        if (req.socket.destroyed) return; // the client left: nobody to answer
      }
      const now = performance.now();
      phases.push(`${step.cpuNs !== undefined ? 'cpu' : 'db'};dur=${ms(now - mark)}`);
      mark = now;
    }
  } catch (e) {
    if (!(e instanceof DbError)) throw e;
    return sendError(req, res, e.status, e.message);
  }
  if (hasCpu) phases.push(`cpu-time;dur=${ms(cpuNs / 1e6)}`);
  const body = render(route, wl.queries, results);
  res.writeHead(200, {
    'Content-Type': route.html ? 'text/html; charset=utf-8' : 'application/json',
    'Content-Length': body.length,
    'Server-Timing': phases.join(', '),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

// The path of an origin-form or absolute-form target, without its query.
function targetPath(url) {
  const abs = /^https?:\/\/[^/?#]*/i.exec(url);
  const p = abs ? url.slice(abs[0].length) || '/' : url;
  return p.split(/[?#]/, 1)[0];
}

// ---- the server ----

function main() {
  const opts = parseArgs(process.argv.slice(2));
  let wl;
  try {
    wl = loadWorkload(opts.workload);
  } catch (e) {
    process.stderr.write(`server.js: ${opts.workload}: ${e.message}\n`);
    process.exit(2);
  }
  let db;
  try {
    if (/^postgres(ql)?:\/\//.test(opts.db)) {
      const { PgClient } = require('./pg');
      db = new PgClient(opts.db, opts.pgConns, wl.queries);
    } else {
      db = new DbClient(opts.db, opts.dbConns);
    }
  } catch (e) {
    usage(e.message);
  }
  let stopping = false;
  const inflight = Symbol('inflight'); // requests of a socket not yet answered
  const deferred = Symbol('deferred'); // an error answer waiting for them

  const server = http.createServer({
    // A longer head is HPE_HEADER_OVERFLOW: 431 below. Node counts the
    // request line's and fields' text without their delimiters, so a head
    // a few bytes over 8 KiB (4 or so per field) may still be served.
    maxHeaderSize: MAX_HEAD,
    keepAliveTimeout: 60000,
    headersTimeout: 20000, // a head must arrive within 20 s of its first byte
    requestTimeout: 30000, // and a whole request within 30 s (no bodies are expected)
    requireHostHeader: false, // Node 20: a missing Host is tolerated, as the C engines do
    noDelay: true,
  }, (req, res) => {
    const arrival = performance.now();
    const sock = req.socket;
    sock[inflight] = (sock[inflight] || 0) + 1;
    res.on('close', () => {
      if (--sock[inflight] === 0 && sock[deferred]) sock.end(sock[deferred]);
    });
    if (stopping) res.setHeader('Connection', 'close');
    if (req.httpVersionMajor !== 1) { // llhttp reads `HTTP/2.0` too; it is not HTTP/1.x
      res.setHeader('Connection', 'close');
      return sendError(req, res, 400);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(req, res, 405);
    const path = targetPath(req.url);
    if (path === '/plaintext') {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 13 });
      return res.end(req.method === 'HEAD' ? undefined : 'Hello, World!');
    }
    const route = wl.routes.get(path);
    if (!route) return sendError(req, res, 404);
    serveRequest(wl, db, route, req, res, arrival).catch((e) => {
      process.stderr.write(`server.js: ${e.stack}\n`);
      if (!res.headersSent) sendError(req, res, 500, 'internal error');
    });
  });
  server.keepAliveTimeout = 60000; // Node 18 reads it here, not from the options

  // A head that does not parse or is too long. Node hands over the socket;
  // the answer closes it. Requests pipelined before the bad one are answered
  // first: the error waits for them, as its place in the stream says.
  server.on('clientError', (err, sock) => {
    if (err.code === 'ECONNRESET' || !sock.writable) return sock.destroy();
    const status = { HPE_HEADER_OVERFLOW: 431, ERR_HTTP_REQUEST_TIMEOUT: 408 }[err.code] || 400;
    const body = errorBody(status);
    const answer = `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nDate: ${new Date().toUTCString()}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
    if (sock[inflight]) sock[deferred] = answer;
    else sock.end(answer);
  });

  server.on('error', (e) => {
    process.stderr.write(`server.js: listen ${opts.listen}: ${e.message}\n`);
    process.exit(1);
  });

  // libuv from 1.45 on (Node 20's; Debian 12's Node 18 links 1.44) accepts
  // one connection per turn of the loop: when cpu steps keep the loop busy,
  // new clients wait in the kernel's queue a turn each, as they would with
  // any Node service on that libuv.
  server.listen({ host: opts.host, port: opts.port, backlog: 4096 }, () => {
    const a = server.address();
    const host = a.family === 'IPv6' || a.family === 6 ? `[${a.address}]` : a.address;
    process.stdout.write(`listening ${host}:${a.port}\n`);
  });

  // SIGTERM: stop accepting, close idle connections, let requests in flight
  // answer (with Connection: close) for up to a second; then the queries
  // still out get 503, those answers go out, and the rest is cut. overlap
  // sends SIGKILL after 2 s.
  process.on('SIGTERM', () => {
    stopping = true;
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => {
      db.close();
      setTimeout(() => {
        server.closeAllConnections();
        process.exit(0);
      }, 50);
    }, 1000).unref();
  });
}

main();

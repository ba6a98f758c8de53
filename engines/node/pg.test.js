'use strict';
// pg.js without a database: cells, parameters, errors and what one execution
// sends. Node's own test runner:  node --test   (run in engines/node)
const test = require('node:test');
const assert = require('node:assert');
const {
  withHost, Exchange, cell, paramText, sleepText, oneLine, unreachable, httpError,
} = require('./pg');

const BOOL = 16, INT8 = 20, INT2 = 21, INT4 = 23, OID = 26, TEXT = 25, DATE = 1082;
const FLOAT4 = 700, FLOAT8 = 701, NUMERIC = 1700;

test('integers: Numbers while exact, BigInts past 2^53, digit for digit', () => {
  assert.strictEqual(cell('42', INT4), 42);
  assert.strictEqual(cell('-32768', INT2), -32768);
  assert.strictEqual(cell('4294967295', OID), 4294967295);
  assert.strictEqual(cell('9007199254740991', INT8), 9007199254740991);
  assert.strictEqual(cell('9007199254740993', INT8), 9007199254740993n);
  assert.strictEqual(cell('-9223372036854775808', INT8), -9223372036854775808n);
  assert.strictEqual(cell('9223372036854775807', INT8), 9223372036854775807n);
});

test('reals: the double their text reads as, float4 too', () => {
  assert.strictEqual(cell('0.1', FLOAT4), 0.1);
  assert.strictEqual(cell('3.4028235e+38', FLOAT4), 3.4028235e38);
  assert.strictEqual(cell('-2.25', FLOAT8), -2.25);
  assert.strictEqual(cell('1e-300', FLOAT8), 1e-300);
  assert.ok(Number.isNaN(cell('NaN', FLOAT8)));
  assert.strictEqual(cell('-Infinity', FLOAT8), -Infinity);
});

test('numeric: an int when whole and within int64, else a real', () => {
  assert.strictEqual(cell('12', NUMERIC), 12);
  assert.strictEqual(cell('-9223372036854775808', NUMERIC), -9223372036854775808n);
  assert.strictEqual(cell('9223372036854775808', NUMERIC), 9223372036854775808);
  assert.strictEqual(cell('12.000', NUMERIC), 12);
  assert.strictEqual(cell('1.25', NUMERIC), 1.25);
  assert.ok(Number.isNaN(cell('NaN', NUMERIC)));
  assert.strictEqual(cell('Infinity', NUMERIC), Infinity);
});

test('bool as 1 or 0, NULL as null, any other type as its text', () => {
  assert.strictEqual(cell('t', BOOL), 1);
  assert.strictEqual(cell('f', BOOL), 0);
  assert.strictEqual(cell(null, INT8), null);
  assert.strictEqual(cell(null, TEXT), null);
  assert.deepStrictEqual(cell('héllo', TEXT), Buffer.from('héllo'));
  assert.deepStrictEqual(cell('2024-01-02', DATE), Buffer.from('2024-01-02'));
  assert.deepStrictEqual(cell('', TEXT), Buffer.alloc(0));
});

test('parameters and waits as the text PostgreSQL reads', () => {
  assert.strictEqual(paramText(9007199254740993n), '9007199254740993');
  assert.strictEqual(paramText(0.1), '0.1');
  assert.strictEqual(paramText(-0), '-0');
  assert.strictEqual(paramText(Infinity), 'Infinity');
  assert.strictEqual(paramText(Buffer.from('plain "x"')), 'plain "x"');
  assert.strictEqual(paramText(null), null);
  assert.strictEqual(sleepText(10), '0.010000000');
  assert.strictEqual(sleepText(0.5), '0.000500000');
  assert.strictEqual(sleepText(0), null);
});

// An ErrorResponse as node-postgres hands it over.
function sqlError(code, message) {
  return Object.assign(new Error(message), { severity: 'ERROR', code });
}

test('errors: out of reach is 503, any other SQL error 500 with its message', () => {
  for (const e of [
    Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }),
    new Error('Connection terminated unexpectedly'),
    sqlError('08006', 'connection failure'),
    sqlError('57P01', 'terminating connection due to administrator command'),
    sqlError('57P02', 'crash shutdown'),
    sqlError('57P03', 'the database system is starting up'),
    sqlError('53300', 'too many connections for role "bench"'),
  ]) {
    assert.ok(unreachable(e), e.message);
    assert.strictEqual(httpError(e).status, 503, e.message);
  }
  for (const [code, message] of [['22003', 'bigint out of range'], ['22012', 'division by zero'],
    ['57014', 'canceling statement due to user request'], ['42P01', 'relation "x" does not exist']]) {
    const e = httpError(sqlError(code, message));
    assert.strictEqual(e.status, 500);
    assert.strictEqual(e.message, message);
  }
  assert.strictEqual(oneLine(' a\n\tb  c '), 'a b c');
});

// A connection that records what an Exchange sends.
function fakeConnection() {
  const sent = [];
  const con = { stream: { cork() { sent.push('cork'); }, uncork() { sent.push('uncork'); } } };
  for (const m of ['close', 'parse', 'bind', 'describe', 'execute', 'sync'])
    con[m] = (msg) => sent.push(msg && msg.name !== undefined ? `${m} ${msg.name}`
      : msg && msg.statement ? `${m} ${msg.statement}` : m);
  return { con, sent };
}

test('one execution: the sleep and the query in one write, one Sync, parsed once', () => {
  const client = { prepared: new Set() };
  let answer;
  const run = (sleep) => {
    const { con, sent } = fakeConnection();
    const ex = new Exchange(client, 'q0', 'SELECT $1::int8', sleep, ['7'], (err, res) => { answer = [err, res]; });
    ex.submit(con);
    return { ex, sent };
  };
  const first = run('0.010000000');
  assert.deepStrictEqual(first.sent, ['cork', 'close overlap_sleep', 'parse overlap_sleep', 'bind overlap_sleep',
    'execute', 'close q0', 'parse q0', 'bind q0', 'describe', 'execute', 'sync', 'uncork']);
  first.ex.handleDataRow({ fields: [''] }); // the sleep's row: not the answer
  first.ex.handleCommandComplete();
  first.ex.handleRowDescription({ fields: [{ dataTypeID: INT8 }, { dataTypeID: BOOL }] });
  first.ex.handleDataRow({ fields: ['9007199254740993', 't'] });
  first.ex.handleCommandComplete();
  first.ex.handleReadyForQuery();
  assert.deepStrictEqual(answer, [null, { ncols: 2, rows: [[9007199254740993n, 1]] }]);
  assert.deepStrictEqual([...client.prepared], ['overlap_sleep', 'q0']);

  const again = run(null); // a wait of 0: the query alone, no Parse
  assert.deepStrictEqual(again.sent, ['cork', 'bind q0', 'describe', 'execute', 'sync', 'uncork']);
  const err = sqlError('22012', 'division by zero');
  again.ex.handleError(err);
  again.ex.handleError(err); // answered once
  assert.deepStrictEqual(answer, [err, undefined]);
});

test('a failed execution leaves its statements to be parsed again', () => {
  const client = { prepared: new Set() };
  const { con } = fakeConnection();
  const ex = new Exchange(client, 'q1', 'SELECT 1', null, [], () => {});
  ex.submit(con);
  ex.handleError(sqlError('42601', 'syntax error'));
  assert.strictEqual(client.prepared.size, 0);
});

test('a URI with an empty host gets a name WHATWG URL takes; the socket folder stays', () => {
  assert.strictEqual(withHost('postgresql://bench@:5432/postgres?host=/tmp/overlap-pg-X'),
                     'postgresql://bench@localhost:5432/postgres?host=/tmp/overlap-pg-X');
  assert.strictEqual(withHost('postgres://:5432/db'), 'postgres://localhost:5432/db');
  assert.strictEqual(withHost('postgresql://u@db.example:5432/x'), 'postgresql://u@db.example:5432/x');
  assert.strictEqual(withHost('postgresql://u@/x?host=/run'), 'postgresql://u@/x?host=/run');
});

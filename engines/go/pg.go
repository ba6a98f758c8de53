// The client side of PostgreSQL, through database/sql and lib/pq, Go's usual
// driver. The server holds a fixed pool of connections, all opened together
// at start (the role may hold exactly that many) and kept: a query step
// takes a free one, runs `SELECT pg_sleep($1::float8)` for the drawn wait,
// then the query, both as statements prepared once per connection, and gives
// the connection back. lib/pq cannot pipeline, so the two go one after the
// other, two round trips; only the query's rows are the answer.
//
// Errors map as overlap's C engines map them on PostgreSQL: a connection
// that cannot be opened or is lost (SQLSTATE class 08, 57P01-57P03, EOF) or
// `too many connections` (53300): 503, and that connection is opened again
// in the background with backoff; no answer within 5 s of the query's
// start on its connection: 504 (lib/pq sends PostgreSQL a cancel and refuses
// the connection from then on, so it is replaced too); any other error: 500
// with PostgreSQL's primary message. A request that finds no connection free
// within 5 s is refused with 503, as an overloaded server sheds.
package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq"
)

// The statement the wait runs as, exactly: the harness leaves it out when it
// counts the workload's calls.
const pgSleepSQL = "SELECT pg_sleep($1::float8)"

// How long opening one connection (and preparing pg_sleep on it) may take.
const pgConnectTimeout = 5 * time.Second

// A result larger than overlap's own clients take is a 500, as there.
const (
	pgMaxRows  = 10000
	pgMaxCells = 65536
)

var errTooBig = errors.New("result too big")

// isPostgres tells a PostgreSQL address (a URI, or libpq's key=value form)
// from overlap db's unix:/PATH and tcp:HOST:PORT, as overlap itself does.
func isPostgres(addr string) bool {
	if strings.HasPrefix(addr, "unix:") || strings.HasPrefix(addr, "tcp:") {
		return false
	}
	return strings.HasPrefix(addr, "postgresql://") || strings.HasPrefix(addr, "postgres://") ||
		strings.Contains(addr, "=")
}

// One connection of the pool. Whoever took it from the free list has it to
// itself; conn is nil while it is down and being opened again.
type pgConn struct {
	mu    sync.Mutex
	conn  *sql.Conn
	stmts []*sql.Stmt // per query, prepared on first use; the last is pg_sleep
}

type pgPool struct {
	db   *sql.DB
	nq   int          // the workload's queries: stmts[nq] is pg_sleep
	free chan *pgConn // the connections not in use, up or down
}

// newPgPool opens n connections at once. One that fails is opened again in
// the background, so the server starts (and answers 503) even while
// PostgreSQL is away.
func newPgPool(addr string, n int, wl *workload) (*pgPool, error) {
	for _, q := range wl.queries {
		if q.sql == "" {
			return nil, fmt.Errorf("query %q has no sql: export the workload with this overlap", q.name)
		}
	}
	// lib/pq has no `prefer`, libpq's default: over TCP an address that
	// names no sslmode goes unencrypted (over a Unix socket it always does).
	if os.Getenv("PGSSLMODE") == "" {
		os.Setenv("PGSSLMODE", "disable")
	}
	connector, err := pq.NewConnector(addr)
	if err != nil {
		return nil, fmt.Errorf("bad --db: %v", err)
	}
	p := &pgPool{db: sql.OpenDB(connector), nq: len(wl.queries), free: make(chan *pgConn, n)}
	p.db.SetMaxOpenConns(n)
	p.db.SetMaxIdleConns(n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		c := &pgConn{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.open(c); err != nil {
				log.Printf("db: %v; connecting again", err)
				go p.reopen(c)
			}
		}()
		p.free <- c
	}
	wg.Wait()
	return p, nil
}

// open opens c's connection and prepares pg_sleep on it.
func (p *pgPool) open(c *pgConn) error {
	ctx, cancel := context.WithTimeout(context.Background(), pgConnectTimeout)
	defer cancel()
	conn, err := p.db.Conn(ctx)
	if err != nil {
		return err
	}
	sleep, err := conn.PrepareContext(ctx, pgSleepSQL)
	if err != nil {
		closeBad(conn)
		return err
	}
	stmts := make([]*sql.Stmt, p.nq+1)
	stmts[p.nq] = sleep
	c.mu.Lock()
	c.conn, c.stmts = conn, stmts
	c.mu.Unlock()
	return nil
}

// reopen opens c again, fast at first so that a restarted PostgreSQL is back
// in use within tens of milliseconds, then every redialMax while it stays
// away.
func (p *pgPool) reopen(c *pgConn) {
	for wait := redialFirst; ; {
		time.Sleep(wait)
		if p.open(c) == nil {
			log.Printf("db: connected again")
			return
		}
		if wait *= 2; wait > redialMax {
			wait = redialMax
		}
	}
}

// closeBad closes conn for good: database/sql would keep a connection its
// user merely closes, idle, for the next caller.
func closeBad(conn *sql.Conn) {
	conn.Raw(func(any) error { return driver.ErrBadConn })
}

// run runs query q once: its parameters and its wait drawn here, the rest on
// a connection of the pool. Waiting for a free connection is the request's
// queue: past 5 s of it the request is refused with 503, as an overloaded
// server sheds. Once it has one, the query has 5 s before its 504, which
// comes on time whatever the connection does: should PostgreSQL not even
// answer lib/pq's cancel, the connection stays with the goroutine that runs
// the query until it does.
func (p *pgPool) run(q *query, rng *rand.Rand) answer {
	args := pgArgs(q.bind(rng))
	wait := q.wait(rng)
	c, a := p.take()
	if c == nil {
		return a
	}
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	done := make(chan answer, 1)
	go func() {
		defer cancel() // after the send: done holds the answer once ctx ends
		done <- p.exec(ctx, c, q, args, wait)
	}()
	select {
	case a := <-done:
		return a
	case <-ctx.Done():
		select {
		case a := <-done:
			return a
		default:
			return failed(504, "database timed out")
		}
	}
}

// take waits for a free connection that is up. One that is down goes back
// at the end of the list; when a whole round finds only those, the database
// is away: 503 at once rather than a wait.
func (p *pgPool) take() (*pgConn, answer) {
	timer := time.NewTimer(queryTimeout)
	defer timer.Stop()
	for tries := 1; ; tries++ {
		select {
		case c := <-p.free:
			c.mu.Lock()
			up := c.conn != nil
			c.mu.Unlock()
			if up {
				return c, answer{}
			}
			p.free <- c // never blocks: the list holds every connection
			if tries >= cap(p.free) {
				return nil, errUnreachable
			}
		case <-timer.C:
			return nil, failed(503, "database busy")
		}
	}
}

// exec runs the wait and the query on c and gives c back, taken down when
// the failure says it cannot serve on.
func (p *pgPool) exec(ctx context.Context, c *pgConn, q *query, args []any, waitMs float64) answer {
	res, err := c.exec(ctx, p.nq, q, args, waitMs)
	if err == nil {
		p.free <- c
		return answer{res: res}
	}
	a, keep := pgFailure(err, ctx.Err() != nil)
	if !keep {
		c.mu.Lock()
		conn := c.conn
		c.conn, c.stmts = nil, nil
		c.mu.Unlock()
		closeBad(conn)
		if a.status == 504 {
			log.Printf("db: query unanswered after %v; replacing its connection", queryTimeout)
		} else {
			log.Printf("db: connection lost (%v); connecting again", err)
		}
		go p.reopen(c)
	}
	p.free <- c
	return a
}

// exec runs the wait, when there is one, and query q on c, preparing q's
// statement on its first use here.
func (c *pgConn) exec(ctx context.Context, nq int, q *query, args []any, waitMs float64) (*result, error) {
	if waitMs > 0 {
		if _, err := c.stmts[nq].ExecContext(ctx, waitMs/1000); err != nil {
			return nil, err
		}
	}
	st := c.stmts[q.id]
	if st == nil {
		var err error
		if st, err = c.conn.PrepareContext(ctx, q.sql); err != nil {
			return nil, err
		}
		c.stmts[q.id] = st
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return pgRows(rows)
}

// pgArgs turns drawn parameters into what lib/pq sends: integers and reals
// as their decimal text, a null as SQL NULL.
func pgArgs(vals []value) []any {
	args := make([]any, len(vals))
	for i, v := range vals {
		switch v.typ {
		case typeInt:
			args[i] = v.i
		case typeReal:
			args[i] = v.r
		case typeText:
			args[i] = v.text
		}
	}
	return args
}

// pgRows reads a result whole, converting each cell by its column's type.
func pgRows(rows *sql.Rows) (*result, error) {
	cols, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	types := make([]string, len(cols))
	for i, c := range cols {
		types[i] = c.DatabaseTypeName()
	}
	res := &result{ncols: len(cols)}
	cells, ptrs := make([]any, len(cols)), make([]any, len(cols))
	for i := range cells {
		ptrs[i] = &cells[i]
	}
	for rows.Next() {
		if res.nrows == pgMaxRows || (res.nrows+1)*res.ncols > pgMaxCells {
			return nil, errTooBig
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range cells {
			res.values = append(res.values, pgValue(v, types[i]))
		}
		res.nrows++
	}
	return res, rows.Err()
}

// pgValue converts one cell as overlap's C engines do from its text
// (db/pg_result.c): int2/int4/int8/oid as integers, float4/float8 as reals
// (from their text, as strtod reads it), numeric as an integer when whole and
// within int64 else a real, bool as 1 or 0, NULL as null, any other type as
// its text. lib/pq hands int2/4/8 as int64 (exact past 2^53), float4/8 as
// float64 read from the text, bool as bool, text as string, timestamps and
// times as time.Time, bytea as its bytes, and every other type as its text
// in []byte; the cases below undo what it decoded that overlap keeps as text.
func pgValue(v any, typ string) value {
	switch x := v.(type) {
	case nil:
		return value{typ: typeNull}
	case int64:
		return value{typ: typeInt, i: x}
	case float64:
		return value{typ: typeReal, r: x}
	case bool:
		if x {
			return value{typ: typeInt, i: 1}
		}
		return value{typ: typeInt}
	case string:
		return value{typ: typeText, text: x}
	case time.Time:
		return value{typ: typeText, text: pgTimeText(x, typ)}
	case []byte:
		s := string(x)
		switch typ {
		case "OID":
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return value{typ: typeInt, i: i}
			}
		case "NUMERIC":
			if !strings.ContainsAny(s, ".eEN") {
				if i, err := strconv.ParseInt(s, 10, 64); err == nil {
					return value{typ: typeInt, i: i}
				}
			}
			if r, err := strconv.ParseFloat(s, 64); err == nil || errors.Is(err, strconv.ErrRange) {
				return value{typ: typeReal, r: r} // past a double: ±Inf, as strtod
			}
		case "BYTEA": // PostgreSQL's text for it, bytea_output = hex
			return value{typ: typeText, text: `\x` + hex.EncodeToString(x)}
		}
		return value{typ: typeText, text: s}
	}
	return value{typ: typeText, text: fmt.Sprint(v)}
}

// pgTimeText writes a date or time the way PostgreSQL does in its ISO
// DateStyle (which lib/pq asks for): `2024-05-06 07:08:09.5+02`, microseconds
// without trailing zeros, the offset as short as it goes, ` BC` last.
func pgTimeText(t time.Time, typ string) string {
	var b []byte
	bc := false
	if typ != "TIME" && typ != "TIMETZ" {
		y, m, d := t.Date()
		if bc = y <= 0; bc {
			y = 1 - y // no year 0: 1 BC precedes AD 1
		}
		b = fmt.Appendf(b, "%04d-%02d-%02d", y, int(m), d)
		if typ == "DATE" {
			return pgEra(b, bc)
		}
		b = append(b, ' ')
	}
	b = fmt.Appendf(b, "%02d:%02d:%02d", t.Hour(), t.Minute(), t.Second())
	if us := t.Nanosecond() / 1000; us > 0 {
		b = append(b, strings.TrimRight(fmt.Sprintf(".%06d", us), "0")...)
	}
	if typ == "TIMESTAMPTZ" || typ == "TIMETZ" {
		_, off := t.Zone()
		sign := byte('+')
		if off < 0 {
			sign, off = '-', -off
		}
		b = fmt.Appendf(b, "%c%02d", sign, off/3600)
		if off%3600 != 0 {
			b = fmt.Appendf(b, ":%02d", off/60%60)
		}
		if off%60 != 0 {
			b = fmt.Appendf(b, ":%02d", off%60)
		}
	}
	return pgEra(b, bc)
}

func pgEra(b []byte, bc bool) string {
	if bc {
		b = append(b, " BC"...)
	}
	return string(b)
}

// pgFailure maps a failed query to its request's status and why, and says
// whether its connection may serve on.
func pgFailure(err error, timedOut bool) (a answer, keep bool) {
	var pe *pq.Error
	switch {
	case timedOut: // lib/pq sent a cancel and will not use the connection again
		return failed(504, "database timed out"), false
	case errors.As(err, &pe):
		code := string(pe.Code)
		if strings.HasPrefix(code, "08") || code == "57P01" || code == "57P02" || code == "57P03" ||
			code == "53300" {
			return errUnreachable, false
		}
		return failed(500, oneLine(pe.Message)), true
	case errors.Is(err, errTooBig):
		return failed(500, err.Error()), true
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, new(net.Error)):
		// lib/pq's word for a lost connection, a FATAL error among them
		return errUnreachable, false
	}
	// A reply lib/pq could not read: the connection's state is unknown.
	return failed(500, oneLine(err.Error())), false
}

// oneLine puts a message on one line as overlap's C engines do: newlines and
// tabs as spaces, runs of spaces as one, none at either end.
func oneLine(m string) string {
	if m == "" {
		return "unknown error"
	}
	return strings.Join(strings.FieldsFunc(m, func(r rune) bool {
		return r == ' ' || r == '\n' || r == '\t'
	}), " ")
}

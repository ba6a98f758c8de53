package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"math"
	"math/rand"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/lib/pq"
)

func TestIsPostgres(t *testing.T) {
	for addr, want := range map[string]bool{
		"postgresql://bench@:5432/postgres?host=/tmp/x": true,
		"postgres://bench@127.0.0.1/postgres":           true,
		"host=/tmp/x dbname=postgres":                   true,
		"unix:/tmp/db.sock":                             false,
		"tcp:127.0.0.1:7000":                            false,
		"unix:/tmp/a=b":                                 false,
	} {
		if got := isPostgres(addr); got != want {
			t.Errorf("isPostgres(%q) = %v", addr, got)
		}
	}
}

// The cells as lib/pq hands them, by column type, and what overlap's C
// engines make of the same columns.
func TestPgValue(t *testing.T) {
	ts := time.Date(2024, 1, 2, 3, 4, 5, 250000000, time.FixedZone("", 0))
	cases := []struct {
		in   any
		typ  string
		want value
	}{
		{nil, "INT8", value{typ: typeNull}},
		{int64(9007199254740993), "INT8", value{typ: typeInt, i: 9007199254740993}},
		{int64(math.MinInt64), "INT8", value{typ: typeInt, i: math.MinInt64}},
		{int64(-32768), "INT2", value{typ: typeInt, i: -32768}},
		{[]byte("4294967295"), "OID", value{typ: typeInt, i: 4294967295}},
		{0.1, "FLOAT8", value{typ: typeReal, r: 0.1}},
		{1.5, "FLOAT4", value{typ: typeReal, r: 1.5}},
		{true, "BOOL", value{typ: typeInt, i: 1}},
		{false, "BOOL", value{typ: typeInt, i: 0}},
		{"h\xc3\xa9llo", "TEXT", value{typ: typeText, text: "h\xc3\xa9llo"}},
		// numeric: whole and within int64 an integer, else a real
		{[]byte("42"), "NUMERIC", value{typ: typeInt, i: 42}},
		{[]byte("-9223372036854775808"), "NUMERIC", value{typ: typeInt, i: math.MinInt64}},
		{[]byte("12345678901234567890"), "NUMERIC", value{typ: typeReal, r: 12345678901234567890}},
		{[]byte("1.25"), "NUMERIC", value{typ: typeReal, r: 1.25}},
		{[]byte("2.0"), "NUMERIC", value{typ: typeReal, r: 2}},
		{[]byte("1e400"), "NUMERIC", value{typ: typeReal, r: math.Inf(1)}},
		// any other type as its text
		{[]byte{0xde, 0xad, 0x00}, "BYTEA", value{typ: typeText, text: `\xdead00`}},
		{[]byte("{1,2}"), "_INT4", value{typ: typeText, text: "{1,2}"}},
		{[]byte("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "UUID", value{typ: typeText, text: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}},
		{[]byte("infinity"), "TIMESTAMP", value{typ: typeText, text: "infinity"}},
		{ts, "TIMESTAMP", value{typ: typeText, text: "2024-01-02 03:04:05.25"}},
	}
	for _, c := range cases {
		if got := pgValue(c.in, c.typ); got != c.want {
			t.Errorf("pgValue(%v, %s) = %+v; want %+v", c.in, c.typ, got, c.want)
		}
	}
	if v := pgValue([]byte("NaN"), "NUMERIC"); v.typ != typeReal || !math.IsNaN(v.r) {
		t.Errorf("numeric NaN: %+v", v)
	}
}

// Dates and times as PostgreSQL writes them in the ISO DateStyle.
func TestPgTimeText(t *testing.T) {
	ist := time.FixedZone("", 5*3600+30*60)
	odd := time.FixedZone("", -(3*3600 + 25*60 + 7))
	cases := []struct {
		t    time.Time
		typ  string
		want string
	}{
		{time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), "TIMESTAMP", "2024-01-02 03:04:05"},
		{time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC), "TIMESTAMP", "2024-01-02 03:04:05.123456"},
		{time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), "TIMESTAMPTZ", "2024-01-02 03:04:05+00"},
		{time.Date(2024, 1, 2, 3, 4, 5, 500000000, ist), "TIMESTAMPTZ", "2024-01-02 03:04:05.5+05:30"},
		{time.Date(2024, 1, 2, 3, 4, 5, 0, odd), "TIMESTAMPTZ", "2024-01-02 03:04:05-03:25:07"},
		{time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), "DATE", "2024-01-02"},
		{time.Date(-43, 3, 15, 0, 0, 0, 0, time.UTC), "DATE", "0044-03-15 BC"},
		{time.Date(-43, 3, 15, 1, 2, 3, 0, time.UTC), "TIMESTAMPTZ", "0044-03-15 01:02:03+00 BC"},
		{time.Date(0, 1, 1, 10, 11, 12, 500000000, time.UTC), "TIME", "10:11:12.5"},
		{time.Date(0, 1, 1, 10, 11, 12, 0, time.FixedZone("", 2*3600)), "TIMETZ", "10:11:12+02"},
	}
	for _, c := range cases {
		if got := pgTimeText(c.t, c.typ); got != c.want {
			t.Errorf("pgTimeText(%v, %s) = %q; want %q", c.t, c.typ, got, c.want)
		}
	}
}

// Failures to statuses, as overlap's C engines map them on PostgreSQL.
func TestPgFailure(t *testing.T) {
	opErr := &net.OpError{Op: "dial", Net: "unix", Err: syscall.ECONNREFUSED}
	cases := []struct {
		err      error
		timedOut bool
		status   int
		reason   string
		keep     bool
	}{
		{&pq.Error{Code: "22003", Message: "bigint out of range"}, false, 500, "bigint out of range", true},
		{&pq.Error{Code: "42P01", Message: "relation \"x\"\n does  not exist"}, false, 500, "relation \"x\" does not exist", true},
		{&pq.Error{Code: "57014", Message: "canceling statement due to user request"}, true, 504, "database timed out", false},
		{context.DeadlineExceeded, true, 504, "database timed out", false},
		{&pq.Error{Code: "57P01", Message: "terminating connection due to administrator command"}, false, 503, "database unreachable", false},
		{&pq.Error{Code: "57P03", Message: "the database system is starting up"}, false, 503, "database unreachable", false},
		{&pq.Error{Code: "08006", Message: "connection failure"}, false, 503, "database unreachable", false},
		{&pq.Error{Code: "53300", Message: "too many connections for role \"bench\""}, false, 503, "database unreachable", false},
		{driver.ErrBadConn, false, 503, "database unreachable", false},
		{sql.ErrConnDone, false, 503, "database unreachable", false},
		{io.EOF, false, 503, "database unreachable", false},
		{opErr, false, 503, "database unreachable", false},
		{errTooBig, false, 500, "result too big", true},
		{errors.New("pq: unexpected message 'Z'"), false, 500, "pq: unexpected message 'Z'", false},
	}
	for _, c := range cases {
		a, keep := pgFailure(c.err, c.timedOut)
		if a.res != nil || a.status != c.status || a.reason != c.reason || keep != c.keep {
			t.Errorf("pgFailure(%v, %v) = %d %q keep %v; want %d %q keep %v",
				c.err, c.timedOut, a.status, a.reason, keep, c.status, c.reason, c.keep)
		}
	}
}

func TestPgArgs(t *testing.T) {
	got := pgArgs([]value{{typ: typeInt, i: math.MaxInt64}, {typ: typeReal, r: 0.5},
		{typ: typeText, text: "it's"}, {typ: typeNull}})
	want := []any{int64(math.MaxInt64), 0.5, "it's", nil}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("arg %d: %#v; want %#v", i, got[i], want[i])
		}
	}
}

func TestWaitDraw(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	if w := (&query{}).wait(rng); w != 0 {
		t.Errorf("no latency: waited %v", w)
	}
	q := &query{latencyMs: []float64{0, 2.5, 10}}
	seen := map[float64]int{}
	for i := 0; i < 300; i++ {
		seen[q.wait(rng)]++
	}
	if len(seen) != 3 || seen[0] < 50 || seen[2.5] < 50 || seen[10] < 50 {
		t.Errorf("draws not uniform over the list: %v", seen)
	}
}

// The client side of overlap's db protocol (db/PROTOCOL.md): length-prefixed,
// big-endian frames, a client-chosen tag per query, answers in any order.
//
// A pool holds a few connections and spreads queries over them. Each
// connection carries many queries at once: a request's goroutine writes its
// frame under the connection's mutex, then waits on its own channel; one
// reader goroutine per connection hands each answer to the channel its tag
// names. A connection that dies fails its waiting queries with 503 and is
// dialled again in the background; until then queries go to the others, or
// get 503 at once when none is up, so a request never hangs on a dead
// database.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Frame kinds and value types, as the protocol numbers them.
const (
	kindQuery  = 1
	kindResult = 2
	kindError  = 3

	typeNull = 0
	typeInt  = 1
	typeReal = 2
	typeText = 3

	statusUnavailable = 7 // the database declined the query: worth retrying

	maxAnswerFrame = 1 << 20 // the largest frame the server sends, length field included
	maxCells       = 65536   // the most values a result holds
)

// How long a query may wait for its answer before the request gets 504.
const queryTimeout = 5 * time.Second

// Redials start fast, so a restarted database is back in use within tens of
// milliseconds, and slow down to this while it stays away.
const (
	redialFirst = 20 * time.Millisecond
	redialMax   = 500 * time.Millisecond
)

// A value of a row, or a query parameter: one of the protocol's four types.
type value struct {
	typ  byte
	i    int64
	r    float64
	text string
}

// A result: nrows rows of ncols values, row-major.
type result struct {
	ncols, nrows int
	values       []value
}

// A query's outcome: its result, or the HTTP status its request gets and why.
type answer struct {
	res    *result
	status int
	reason string
}

func failed(status int, reason string) answer {
	return answer{status: status, reason: reason}
}

var errUnreachable = failed(503, "database unreachable")

// One connection to the database and the queries out on it.
type dbConn struct {
	network, address string

	mu        sync.Mutex
	conn      net.Conn               // nil while down
	pending   map[uint32]chan answer // the queries out on conn, by tag
	nextTag   uint32
	redialing bool
	frame     []byte // the frame being written, reused
}

type dbPool struct {
	conns []*dbConn
	next  uint32 // round robin over conns
}

// parseDB splits `unix:/PATH` or `tcp:HOST:PORT` into what net.Dial takes.
func parseDB(addr string) (network, address string, err error) {
	switch {
	case strings.HasPrefix(addr, "unix:") && len(addr) > len("unix:"):
		return "unix", addr[len("unix:"):], nil
	case strings.HasPrefix(addr, "tcp:") && len(addr) > len("tcp:"):
		return "tcp", addr[len("tcp:"):], nil
	}
	return "", "", fmt.Errorf("bad --db %q (expected unix:/PATH or tcp:HOST:PORT)", addr)
}

// newPool dials n connections. One that fails is dialled again in the
// background, so the server starts (and answers 503) even while the database
// is still coming up.
func newPool(addr string, n int) (*dbPool, error) {
	network, address, err := parseDB(addr)
	if err != nil {
		return nil, err
	}
	p := &dbPool{}
	for i := 0; i < n; i++ {
		c := &dbConn{network: network, address: address, pending: map[uint32]chan answer{}}
		if conn, err := net.DialTimeout(network, address, time.Second); err == nil {
			c.up(conn)
		} else {
			log.Printf("db: %v; dialling again", err)
			c.mu.Lock()
			c.redialLocked()
			c.mu.Unlock()
		}
		p.conns = append(p.conns, c)
	}
	return p, nil
}

// run runs query q once with parameters drawn from rng. overlap db draws
// the wait and holds the answer for it.
func (p *dbPool) run(q *query, rng *rand.Rand) answer {
	return p.query(q.id, q.bind(rng))
}

// query runs query id with params and waits for its answer. It starts on the
// next connection round robin and passes over those that are down.
func (p *dbPool) query(id int, params []value) answer {
	start := atomic.AddUint32(&p.next, 1)
	for i := range p.conns {
		c := p.conns[(int(start)+i)%len(p.conns)]
		if a, sent := c.query(id, params); sent {
			return a
		}
	}
	return errUnreachable
}

// query sends the query on c and waits for its answer; sent is false when c
// was down, so the caller may try another connection.
func (c *dbConn) query(id int, params []value) (a answer, sent bool) {
	ch := make(chan answer, 1) // one send ever: the answer, or the failure
	c.mu.Lock()
	conn := c.conn
	if conn == nil {
		c.mu.Unlock()
		return answer{}, false
	}
	tag := c.nextTag
	for c.pending[tag] != nil { // a tag still out after 2^32 queries: skip it
		tag++
	}
	c.nextTag = tag + 1
	frame, err := appendQuery(c.frame[:0], tag, id, params)
	if err != nil {
		c.mu.Unlock()
		return failed(500, err.Error()), true
	}
	c.frame = frame
	c.pending[tag] = ch
	// A database that stops reading (its back-pressure) would block the
	// write, and every other writer behind the mutex with it: bounded.
	conn.SetWriteDeadline(time.Now().Add(queryTimeout))
	if _, err := conn.Write(frame); err != nil {
		c.downLocked(conn, err) // a partial frame leaves no framing: close
	}
	c.mu.Unlock()

	timer := time.NewTimer(queryTimeout)
	defer timer.Stop()
	select {
	case a = <-ch:
		return a, true
	case <-timer.C:
		c.mu.Lock()
		if c.pending[tag] == ch {
			delete(c.pending, tag) // its answer, should it come, is dropped
		}
		c.mu.Unlock()
		select {
		case a = <-ch: // answered in the meantime after all
			return a, true
		default:
			return failed(504, "database timed out"), true
		}
	}
}

// up puts a freshly dialled connection in service with its reader.
func (c *dbConn) up(conn net.Conn) {
	c.mu.Lock()
	c.conn = conn
	c.redialing = false
	c.mu.Unlock()
	go c.read(conn)
}

// downLocked takes conn out of service (if it still is), fails the queries
// out on it with 503 and starts dialling again. Called with c.mu held.
func (c *dbConn) downLocked(conn net.Conn, why error) {
	if c.conn != conn {
		return // already down: the reader and a writer both saw it
	}
	conn.Close()
	c.conn = nil
	for tag, ch := range c.pending {
		ch <- errUnreachable
		delete(c.pending, tag)
	}
	log.Printf("db: connection lost (%v); dialling again", why)
	c.redialLocked()
}

func (c *dbConn) redialLocked() {
	if c.redialing {
		return
	}
	c.redialing = true
	go func() {
		wait := redialFirst
		for {
			time.Sleep(wait)
			conn, err := net.DialTimeout(c.network, c.address, time.Second)
			if err == nil {
				log.Printf("db: connected again")
				c.up(conn)
				return
			}
			if wait *= 2; wait > redialMax {
				wait = redialMax
			}
		}
	}()
}

// read hands each answer on conn to the query its tag names, until conn
// fails; then it takes conn down.
func (c *dbConn) read(conn net.Conn) {
	r := bufio.NewReaderSize(conn, 64<<10)
	var buf []byte
	for {
		var err error
		var tag uint32
		var a answer
		buf, tag, a, err = readAnswer(r, buf)
		if err != nil {
			c.mu.Lock()
			c.downLocked(conn, err)
			c.mu.Unlock()
			return
		}
		c.mu.Lock()
		ch := c.pending[tag]
		delete(c.pending, tag)
		c.mu.Unlock()
		if ch != nil { // nil: the query timed out, its answer is dropped
			ch <- a
		}
	}
}

// ---- frames ----

// appendQuery appends a query frame: length, kind, tag, then the query's
// index, the parameter count and the parameters.
func appendQuery(b []byte, tag uint32, id int, params []value) ([]byte, error) {
	b = append(b, 0, 0, 0, 0, kindQuery)
	b = binary.BigEndian.AppendUint32(b, tag)
	b = binary.BigEndian.AppendUint16(b, uint16(id))
	b = binary.BigEndian.AppendUint16(b, uint16(len(params)))
	for _, v := range params {
		b = append(b, v.typ)
		switch v.typ {
		case typeInt:
			b = binary.BigEndian.AppendUint64(b, uint64(v.i))
		case typeReal:
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(v.r))
		case typeText:
			b = binary.BigEndian.AppendUint32(b, uint32(len(v.text)))
			b = append(b, v.text...)
		}
	}
	if len(b) > 65536 {
		return nil, errors.New("query frame over 65,536 bytes")
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b, nil
}

// readAnswer reads one frame into buf (grown as needed) and decodes it. An
// error means the framing is lost (or the socket is): the connection must
// go. A frame that is whole but does not decode is that query's 500.
func readAnswer(r *bufio.Reader, buf []byte) ([]byte, uint32, answer, error) {
	var head [9]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return buf, 0, answer{}, err
	}
	length := binary.BigEndian.Uint32(head[:4])
	if length < 5 || length > maxAnswerFrame-4 {
		return buf, 0, answer{}, fmt.Errorf("bad frame length %d", length)
	}
	kind, tag := head[4], binary.BigEndian.Uint32(head[5:])
	n := int(length) - 5
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return buf, 0, answer{}, err
	}
	switch kind {
	case kindResult:
		res, err := decodeResult(buf)
		if err != nil {
			return buf, tag, failed(500, err.Error()), nil
		}
		return buf, tag, answer{res: res}, nil
	case kindError:
		return buf, tag, decodeError(buf), nil
	}
	return buf, tag, answer{}, fmt.Errorf("unexpected frame kind %d", kind)
}

var errShort = errors.New("malformed answer from the database")

func decodeResult(b []byte) (*result, error) {
	if len(b) < 9 || b[0] != 0 {
		return nil, errShort
	}
	ncols, nrows := binary.BigEndian.Uint32(b[1:]), binary.BigEndian.Uint32(b[5:])
	if uint64(ncols)*uint64(nrows) > maxCells {
		return nil, errShort
	}
	res := &result{ncols: int(ncols), nrows: int(nrows)}
	res.values = make([]value, 0, ncols*nrows)
	b = b[9:]
	for len(res.values) < cap(res.values) {
		if len(b) < 1 {
			return nil, errShort
		}
		v := value{typ: b[0]}
		b = b[1:]
		switch v.typ {
		case typeNull:
		case typeInt, typeReal:
			if len(b) < 8 {
				return nil, errShort
			}
			u := binary.BigEndian.Uint64(b)
			v.i, v.r = int64(u), math.Float64frombits(u)
			b = b[8:]
		case typeText:
			if len(b) < 4 || uint64(len(b)-4) < uint64(binary.BigEndian.Uint32(b)) {
				return nil, errShort
			}
			n := binary.BigEndian.Uint32(b)
			v.text = string(b[4 : 4+n])
			b = b[4+n:]
		default:
			return nil, errShort
		}
		res.values = append(res.values, v)
	}
	if len(b) != 0 {
		return nil, errShort
	}
	return res, nil
}

// decodeError maps an error frame to the request's status: `unavailable` is
// transient (503); any other error means the workload is wrong (500).
func decodeError(b []byte) answer {
	if len(b) < 3 {
		return failed(500, errShort.Error())
	}
	status, n := b[0], int(binary.BigEndian.Uint16(b[1:]))
	msg := string(b[3:])
	if n < len(msg) {
		msg = msg[:n]
	}
	if status == statusUnavailable {
		return failed(503, msg)
	}
	return failed(500, msg)
}

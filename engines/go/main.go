// overlap-go: overlap's workload served by Go's net/http, a goroutine per
// connection, the way Go servers are written. A cpu step burns the
// goroutine's own thread; a query step parks the goroutine on a channel
// while the database holds the answer, and the runtime runs others meanwhile.
//
// GOMAXPROCS is left to the runtime: it follows the CPUs the process may run
// on, which is how overlap pins a server (taskset, cpusets).
//
// On PostgreSQL (a --db of postgresql://...) a query step instead takes one
// of --db-connections connections, held from the start, for its wait and its
// query (pg.go).
//
//	overlap-go --listen HOST:PORT --db unix:/PATH --workload FILE.json [--db-conns N]
//	overlap-go --listen HOST:PORT --db postgresql://... --workload FILE.json --db-connections N
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// A request head over 8 KiB gets 431. net/http lets a head read
// MaxHeaderBytes plus 4096 bytes of slack, so the field is set 4 KiB under.
const (
	maxHead     = 8 << 10
	headerSlack = 4096
)

const (
	// SIGTERM to exit, well under the 2 s overlap allows. A connection that
	// has sent no whole request yet holds Shutdown up to this deadline
	// (net/http closes only idle ones early); an answer in progress takes
	// tens of milliseconds.
	stopDeadline = time.Second
)

type server struct {
	wl *workload
	db database
}

// A database client: overlap db's (db.go) or PostgreSQL's (pg.go).
type database interface {
	// run runs query q once, its parameters drawn from rng, and waits for
	// its answer.
	run(q *query, rng *rand.Rand) answer
}

type ctxKey struct{}

// seeds makes every connection's parameter source distinct.
var seeds int64

// connRand gives each connection its own source of parameters, put in the
// connection's context: its requests run one after another on its
// goroutine, so the source needs no lock (math/rand's global one takes a
// mutex every call, shared by every connection).
func connRand(ctx context.Context, _ net.Conn) context.Context {
	seed := time.Now().UnixNano() ^ atomic.AddInt64(&seeds, 1)*0x5851f42d4c957f2d
	return context.WithValue(ctx, ctxKey{}, rand.New(rand.NewSource(seed)))
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The method is checked before the path, as overlap's own engines do:
	// POST to any path gets 405, GET to an unknown one 404.
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header()["Allow"] = []string{"GET, HEAD"}
		writeError(w, r, 405, "")
		return
	}
	// The path as sent (a query string aside): `/%68ome` is not `/home`.
	path := r.URL.EscapedPath()
	rq := s.wl.routes[path]
	if rq == nil && path != "/plaintext" {
		writeError(w, r, 404, "")
		return
	}
	if rq == nil {
		writeBody(w, r, "text/plain", []byte("Hello, World!"))
		return
	}
	s.serveRequest(w, r, rq)
}

// serveRequest runs rq's steps in order and answers with their results and
// how long each took, or with the first failing query's status.
func (s *server) serveRequest(w http.ResponseWriter, r *http.Request, rq *request) {
	rng := r.Context().Value(ctxKey{}).(*rand.Rand)
	// phases[0] is the queue: net/http starts the handler on the goroutine
	// that parsed the head, so the server itself holds no queue (a wait for
	// a CPU happens in the runtime's scheduler, out of sight).
	phases := make([]int64, 1+len(rq.steps))
	var cpuTime int64
	body := bodyBegin(make([]byte, 0, 512), rq)
	first := true
	mark := time.Now()
	for i, st := range rq.steps {
		if st.query == nil {
			cpuTime += burn(st.cpuNs)
		} else {
			a := s.db.run(st.query, rng)
			if a.res == nil {
				writeError(w, r, a.status, a.reason)
				return
			}
			body = bodyAdd(body, rq, st.query, a.res, first)
			first = false
		}
		now := time.Now()
		phases[1+i] = int64(now.Sub(mark))
		mark = now
	}
	body = bodyEnd(body, rq)
	w.Header()["Server-Timing"] = []string{string(appendTiming(nil, rq, phases, cpuTime))}
	ctype := "application/json"
	if rq.html {
		ctype = "text/html; charset=utf-8"
	}
	writeBody(w, r, ctype, body)
}

// writeBody answers 200 with a Content-Length, so no response is chunked;
// HEAD gets the same head and no body. net/http adds Date.
func writeBody(w http.ResponseWriter, r *http.Request, ctype string, body []byte) {
	h := w.Header()
	h["Content-Type"] = []string{ctype}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(200)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// writeError answers with a one-line text body, `503 Service Unavailable:
// database unreachable`, as overlap's own engines do.
func writeError(w http.ResponseWriter, r *http.Request, status int, reason string) {
	msg := strconv.Itoa(status) + " " + http.StatusText(status)
	if reason != "" {
		msg += ": " + reason
	}
	h := w.Header()
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	h["Content-Length"] = []string{strconv.Itoa(len(msg) + 1)}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write([]byte(msg + "\n"))
	}
}

func main() {
	log.SetPrefix("overlap-go: ")
	log.SetFlags(0)
	listen := flag.String("listen", "127.0.0.1:0", "`HOST:PORT` to listen on; port 0 picks one")
	dbAddr := flag.String("db", "", "the database: `unix:/PATH, tcp:HOST:PORT or postgresql://...`")
	wlPath := flag.String("workload", "", "the workload as JSON")
	dbConns := flag.Int("db-conns", 4, "overlap db: connections, each carrying many queries")
	pgConns := flag.Int("db-connections", 8, "PostgreSQL: connections held, each one query at a time")
	flag.Parse()
	pg := isPostgres(*dbAddr)
	if *dbAddr == "" || *wlPath == "" || *dbConns < 1 || *pgConns < 0 || (pg && *pgConns < 1) ||
		flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	wl, err := loadWorkload(*wlPath)
	if err != nil {
		log.Print(err)
		os.Exit(2)
	}
	var db database
	if pg {
		db, err = newPgPool(*dbAddr, *pgConns, wl)
	} else {
		db, err = newPool(*dbAddr, *dbConns)
	}
	if err != nil {
		log.Print(err)
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{
		Handler:           &server{wl: wl, db: db},
		MaxHeaderBytes:    maxHead - headerSlack,
		ReadHeaderTimeout: 30 * time.Second, // a client that never ends its head
		ConnContext:       connRand,
		ErrorLog:          log.Default(),
	}
	// Bound before this line, so a client that reads it can connect.
	fmt.Printf("listening %s\n", ln.Addr())

	stopped := make(chan struct{})
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		// Idle connections close now, busy ones once their request is
		// answered; whatever is left at the deadline is cut.
		ctx, cancel := context.WithTimeout(context.Background(), stopDeadline)
		defer cancel()
		srv.Shutdown(ctx)
		close(stopped)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	<-stopped
}

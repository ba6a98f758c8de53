// The workload as overlap exports it in JSON (engines/README.md, section 3),
// read and checked once at start, then turned into what the handler needs:
// a route per request type and, per query, how to draw its parameters.
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

type workloadFile struct {
	Name    string `json:"workload"`
	Queries []struct {
		Name      string    `json:"name"`
		SQL       string    `json:"sql"`        // as PostgreSQL reads it
		LatencyMs []float64 `json:"latency_ms"` // equally likely waits, on PostgreSQL
		Params    []struct {
			Kind  string          `json:"kind"`
			Lo    *int64          `json:"lo"`
			Hi    *int64          `json:"hi"`
			Value json.RawMessage `json:"value"`
		} `json:"params"`
	} `json:"queries"`
	Requests []struct {
		Name   string `json:"name"`
		Path   string `json:"path"`
		Render string `json:"render"`
		Steps  []struct {
			CPUNs *int64 `json:"cpu_ns"`
			Query *int   `json:"query"`
		} `json:"steps"`
	} `json:"requests"`
}

// A query parameter: a constant, or a uniform integer in [lo, hi] drawn
// afresh for every execution (draw).
type param struct {
	draw   bool
	lo, hi int64
	fixed  value
}

type query struct {
	id     int // its position in the file: what travels to the database
	name   string
	params []param
	// On PostgreSQL the query travels as its SQL, and the server itself
	// holds the answer for a wait drawn from latencyMs.
	sql       string
	latencyMs []float64
}

// A step is a cpu burn (query == nil) or one query.
type step struct {
	cpuNs int64
	query *query
}

type request struct {
	name  string
	html  bool
	steps []step
}

type workload struct {
	routes  map[string]*request // by path, `/home`
	queries []*query            // by id
}

func loadWorkload(path string) (*workload, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f workloadFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	queries := make([]*query, len(f.Queries))
	for i, fq := range f.Queries {
		q := &query{id: i, name: fq.Name, sql: fq.SQL, latencyMs: fq.LatencyMs}
		for j, fp := range fq.Params {
			p, err := parseParam(fp.Kind, fp.Lo, fp.Hi, fp.Value)
			if err != nil {
				return nil, fmt.Errorf("%s: query %q, param %d: %v", path, fq.Name, j, err)
			}
			q.params = append(q.params, p)
		}
		queries[i] = q
	}
	wl := &workload{routes: map[string]*request{}, queries: queries}
	for _, fr := range f.Requests {
		rq := &request{name: fr.Name, html: fr.Render == "html"}
		if fr.Render != "json" && fr.Render != "html" && fr.Render != "" {
			return nil, fmt.Errorf("%s: request %q: unknown render %q", path, fr.Name, fr.Render)
		}
		if len(fr.Path) < 2 || fr.Path[0] != '/' || fr.Path == "/plaintext" || wl.routes[fr.Path] != nil {
			return nil, fmt.Errorf("%s: request %q: bad or repeated path %q", path, fr.Name, fr.Path)
		}
		for j, fs := range fr.Steps {
			switch {
			case fs.CPUNs != nil && fs.Query == nil && *fs.CPUNs >= 0:
				rq.steps = append(rq.steps, step{cpuNs: *fs.CPUNs})
			case fs.Query != nil && fs.CPUNs == nil && *fs.Query >= 0 && *fs.Query < len(queries):
				rq.steps = append(rq.steps, step{query: queries[*fs.Query]})
			default:
				return nil, fmt.Errorf("%s: request %q, step %d: expected {\"cpu_ns\": N} or {\"query\": I}", path, fr.Name, j)
			}
		}
		wl.routes[fr.Path] = rq
	}
	return wl, nil
}

func parseParam(kind string, lo, hi *int64, raw json.RawMessage) (param, error) {
	switch kind {
	case "int":
		if lo != nil && hi != nil && *lo <= *hi {
			return param{draw: true, lo: *lo, hi: *hi}, nil
		}
		// Parsed as text, so a 64-bit constant keeps every digit.
		if i, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
			return param{fixed: value{typ: typeInt, i: i}}, nil
		}
		return param{}, fmt.Errorf("int needs lo <= hi or an integer value")
	case "real":
		var r float64
		if err := json.Unmarshal(raw, &r); err != nil {
			return param{}, fmt.Errorf("real needs a number value")
		}
		return param{fixed: value{typ: typeReal, r: r}}, nil
	case "text":
		s, err := unquoteBytes(raw)
		if err != nil {
			return param{}, fmt.Errorf("text needs a string value: %v", err)
		}
		return param{fixed: value{typ: typeText, text: s}}, nil
	case "null":
		return param{fixed: value{typ: typeNull}}, nil
	}
	return param{}, fmt.Errorf("unknown kind %q", kind)
}

// wait draws one execution's wait, in ms: a uniform pick of latencyMs
// (0 when there is none).
func (q *query) wait(rng *rand.Rand) float64 {
	if len(q.latencyMs) == 0 {
		return 0
	}
	return q.latencyMs[rng.Intn(len(q.latencyMs))]
}

// bind draws one execution's parameters.
func (q *query) bind(rng *rand.Rand) []value {
	vals := make([]value, len(q.params))
	for i, p := range q.params {
		if !p.draw {
			vals[i] = p.fixed
			continue
		}
		// The span as unsigned: [MinInt64, MaxInt64] overflows int64, and
		// there every uint64 is in range.
		span := uint64(p.hi-p.lo) + 1
		var off uint64
		if span == 0 {
			off = rng.Uint64()
		} else if span <= math.MaxInt64 {
			off = uint64(rng.Int63n(int64(span)))
		} else {
			for off = rng.Uint64(); off >= span; off = rng.Uint64() {
			}
		}
		vals[i] = value{typ: typeInt, i: p.lo + int64(off)}
	}
	return vals
}

// unquoteBytes decodes a JSON string keeping its bytes as they are: overlap
// writes a text constant's bytes unchanged but for escapes, valid UTF-8 or
// not, and encoding/json would turn invalid UTF-8 into U+FFFD, so the
// database would get another parameter than overlap's own engines send.
func unquoteBytes(raw json.RawMessage) (string, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", fmt.Errorf("not a string")
	}
	in, out := raw[1:len(raw)-1], make([]byte, 0, len(raw))
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i++; i == len(in) {
			return "", fmt.Errorf("escape at the end")
		}
		switch c = in[i]; c {
		case '"', '\\', '/':
			out = append(out, c)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n := hex4(in[i+1:])
			if n == 0 {
				return "", fmt.Errorf("bad \\u escape")
			}
			i += n
			// A surrogate pair spells one rune past U+FFFF.
			if utf16.IsSurrogate(r) && i+2 < len(in) && in[i+1] == '\\' && in[i+2] == 'u' {
				if r2, n2 := hex4(in[i+3:]); n2 > 0 {
					if pair := utf16.DecodeRune(r, r2); pair != utf8.RuneError {
						r = pair
						i += 2 + n2
					}
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", fmt.Errorf("bad escape \\%c", c)
		}
	}
	return string(out), nil
}

// hex4 reads the four hex digits of a \u escape: the rune and 4, or 0, 0.
func hex4(b []byte) (rune, int) {
	if len(b) < 4 {
		return 0, 0
	}
	v, err := strconv.ParseUint(string(b[:4]), 16, 16)
	if err != nil {
		return 0, 0
	}
	return rune(v), 4
}

package main

import (
	"math"
	"math/rand"
	"testing"
)

func TestUnquoteBytesKeepsBytes(t *testing.T) {
	cases := map[string]string{
		`"plain"`:               "plain",
		`"a\"b\\c\n\t\u0001\/"`: "a\"b\\c\n\t\x01/",
		"\"caf\xe9\"":           "caf\xe9", // Latin-1, not UTF-8: kept as is
		`"\u00e9"`:              "é",
		`"\ud83d\ude00"`:        "😀",
		"\"\xe3\x83\x95\"":      "フ",
	}
	for in, want := range cases {
		got, err := unquoteBytes([]byte(in))
		if err != nil || got != want {
			t.Errorf("unquoteBytes(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`"\x"`, `"\u12"`, `"abc`, `"\`} {
		if _, err := unquoteBytes([]byte(bad)); err == nil {
			t.Errorf("unquoteBytes(%q) took a bad string", bad)
		}
	}
}

func TestBindStaysInRange(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, r := range [][2]int64{{1, 10000}, {5, 5}, {-3, 3}, {math.MinInt64, math.MaxInt64}, {math.MinInt64, 0}} {
		q := &query{params: []param{{draw: true, lo: r[0], hi: r[1]}}}
		seen := map[int64]bool{}
		for i := 0; i < 2000; i++ {
			v := q.bind(rng)[0]
			if v.typ != typeInt || v.i < r[0] || v.i > r[1] {
				t.Fatalf("[%d, %d] drew %d", r[0], r[1], v.i)
			}
			seen[v.i] = true
		}
		if r[1]-r[0] > 10 && len(seen) < 10 {
			t.Errorf("[%d, %d]: only %d distinct values", r[0], r[1], len(seen))
		}
	}
}

func TestTimingFormat(t *testing.T) {
	rq := &request{steps: []step{{cpuNs: 500000}, {query: &query{}}, {cpuNs: 500000}}}
	got := string(appendTiming(nil, rq, []int64{0, 536400, 10435600, 534999, 0}, 1057000))
	want := "queue;dur=0.000, cpu;dur=0.536, db;dur=10.436, cpu;dur=0.535, cpu-time;dur=1.057"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	dbOnly := &request{steps: []step{{query: &query{}}}}
	if got := string(appendTiming(nil, dbOnly, []int64{12000, 2000000}, 0)); got != "queue;dur=0.012, db;dur=2.000" {
		t.Errorf("no cpu step: got %s", got)
	}
}

func TestAnswerFrames(t *testing.T) {
	// The protocol's own example: one row (42, 189) for tag 7.
	res, err := decodeResult([]byte{0, 0, 0, 0, 2, 0, 0, 0, 1,
		1, 0, 0, 0, 0, 0, 0, 0, 42, 1, 0, 0, 0, 0, 0, 0, 0, 189})
	if err != nil || res.nrows != 1 || res.ncols != 2 || res.values[0].i != 42 || res.values[1].i != 189 {
		t.Fatalf("decodeResult: %+v, %v", res, err)
	}
	if _, err := decodeResult([]byte{0, 0, 0, 0, 1, 0, 0, 0, 1, 3, 0, 0, 0, 9, 'x'}); err == nil {
		t.Error("a text value past the frame decoded")
	}
	if a := decodeError([]byte{7, 0, 2, 'n', 'o'}); a.status != 503 || a.reason != "no" {
		t.Errorf("unavailable: %+v", a)
	}
	if a := decodeError([]byte{4, 0, 1, 'x'}); a.status != 500 {
		t.Errorf("sql error: %+v", a)
	}
	frame, err := appendQuery(nil, 7, 0, []value{{typ: typeInt, i: 42}})
	want := []byte{0, 0, 0, 18, 1, 0, 0, 0, 7, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 42}
	if err != nil || string(frame) != string(want) {
		t.Errorf("appendQuery: % x, %v", frame, err)
	}
}

// The response bodies and the Server-Timing value, written by hand rather
// than through encoding/json or html/template so the bytes are the ones
// overlap's own engines write: JSON text escaped the same way (other bytes,
// UTF-8 or not, pass through), reals as C's %.17g, HTML byte for byte.
package main

import (
	"math"
	"strconv"
)

func appendJSONText(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func appendHTMLText(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			b = append(b, "&amp;"...)
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '"':
			b = append(b, "&quot;"...)
		case '\'':
			b = append(b, "&#39;"...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendNumber writes an int or a real; a real JSON cannot hold (NaN, ±Inf)
// becomes notFinite.
func appendNumber(b []byte, v value, notFinite string) []byte {
	if v.typ == typeInt {
		return strconv.AppendInt(b, v.i, 10)
	}
	if math.IsNaN(v.r) || math.IsInf(v.r, 0) {
		return append(b, notFinite...)
	}
	// 'g' with 17 digits round-trips every float64 and, like C's %.17g,
	// drops trailing zeros and switches to an exponent past 17 digits.
	return strconv.AppendFloat(b, v.r, 'g', 17, 64)
}

// A request's body is built as its query steps answer: begin, one add per
// query step, end.
func bodyBegin(b []byte, rq *request) []byte {
	if rq.html {
		b = append(b, "<!DOCTYPE html><html><head><title>"...)
		b = appendHTMLText(b, rq.name)
		return append(b, "</title></head><body>"...)
	}
	b = append(b, `{"request":`...)
	b = appendJSONText(b, rq.name)
	return append(b, `,"results":[`...)
}

func bodyAdd(b []byte, rq *request, q *query, res *result, first bool) []byte {
	if rq.html {
		b = append(b, "<table><caption>"...)
		b = appendHTMLText(b, q.name)
		b = append(b, "</caption>"...)
		for r := 0; r < res.nrows; r++ {
			b = append(b, "<tr>"...)
			for _, v := range res.values[r*res.ncols : (r+1)*res.ncols] {
				b = append(b, "<td>"...)
				switch v.typ {
				case typeInt, typeReal:
					b = appendNumber(b, v, "")
				case typeText:
					b = appendHTMLText(b, v.text)
				} // null: an empty cell
				b = append(b, "</td>"...)
			}
			b = append(b, "</tr>"...)
		}
		return append(b, "</table>"...)
	}
	if !first {
		b = append(b, ',')
	}
	b = append(b, `{"query":`...)
	b = appendJSONText(b, q.name)
	b = append(b, `,"rows":[`...)
	for r := 0; r < res.nrows; r++ {
		if r > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for c, v := range res.values[r*res.ncols : (r+1)*res.ncols] {
			if c > 0 {
				b = append(b, ',')
			}
			switch v.typ {
			case typeInt, typeReal:
				b = appendNumber(b, v, "null")
			case typeText:
				b = appendJSONText(b, v.text)
			default:
				b = append(b, "null"...)
			}
		}
		b = append(b, ']')
	}
	return append(b, "]}"...)
}

func bodyEnd(b []byte, rq *request) []byte {
	if rq.html {
		return append(b, "</body></html>"...)
	}
	return append(b, "]}"...)
}

// appendTiming writes the Server-Timing value: the queue, then one phase per
// step named by its kind, then the thread CPU time the cpu steps took (when
// there was one), each in ms rounded to the microsecond:
// `queue;dur=0.000, cpu;dur=0.536, db;dur=10.436, cpu;dur=0.535, cpu-time;dur=1.057`.
func appendTiming(b []byte, rq *request, phases []int64, cpuTime int64) []byte {
	b = appendMetric(b, "queue", phases[0])
	hasCPU := false
	for i, s := range rq.steps {
		name := "db"
		if s.query == nil {
			name, hasCPU = "cpu", true
		}
		b = append(b, ", "...)
		b = appendMetric(b, name, phases[1+i])
	}
	if hasCPU {
		b = append(b, ", "...)
		b = appendMetric(b, "cpu-time", cpuTime)
	}
	return b
}

func appendMetric(b []byte, name string, ns int64) []byte {
	if ns < 0 {
		ns = 0
	}
	us := (ns + 500) / 1000
	b = append(b, name...)
	b = append(b, ";dur="...)
	b = strconv.AppendInt(b, us/1000, 10)
	frac := us % 1000
	b = append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	return b
}

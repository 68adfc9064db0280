package event

import (
	"fmt"
	"math"
	"strconv"
)

// Shapes names the event shapes of the benchmarks, smallest first.
var Shapes = []string{"small", "typical", "large"}

// Shape returns the event of the named shape, the same on every call:
//
//   - small: a heartbeat: origin, one tag and four fields.
//   - typical: an access-log record: three tags and eleven fields of every
//     kind, one a list; about 430 bytes of JSON.
//   - large: a trace record: eight tags, 40 fields, a 1 KiB message and a
//     32-element list; about 2.7 KiB of JSON.
func Shape(name string) (*Event, error) {
	switch name {
	case "small":
		return &Event{
			ID: 1_000_001, Timestamp: 1_763_942_400_000_000_000, Origin: "probe-7",
			Tags: []string{"heartbeat"},
			Fields: []Field{
				StringField("level", "info"),
				IntField("count", 41),
				FloatField("uptime_s", 86400.25),
				BoolField("healthy", true),
			},
		}, nil
	case "typical":
		return &Event{
			ID: 7_340_032_981, Timestamp: 1_763_942_400_123_456_789, Origin: "edge-eu-west-1.ingest.example.net",
			Tags: []string{"http", "prod", "tier:gold"},
			Fields: []Field{
				StringField("level", "info"),
				StringField("method", "GET"),
				StringField("path", "/api/v2/orders/8812/items?expand=price&currency=EUR"),
				IntField("status", 200),
				IntField("count", 3),
				IntField("bytes", 18_532),
				FloatField("latency_ms", 12.875),
				FloatField("cpu", 0.0625),
				BoolField("cached", false),
				StringField("user_agent", `Mozilla/5.0 (X11; Linux x86_64) "plugbench"/1.0`),
				ListField("retries_ms", 5, 25, 125),
			},
		}, nil
	case "large":
		e := &Event{
			ID: 18_446_744_073_709_551_557, Timestamp: -1, Origin: "trace-collector.us-east-2.internal",
			Tags: []string{"trace", "prod", "sampled", "region:us-east-2", "team:payments", "tier:gold", "v:3.14.1", "canary"},
		}
		list := make([]int64, 32)
		for i := range list {
			list[i] = int64(i*i*1013) - 40_000
		}
		msg := make([]byte, 1024)
		for i := range msg {
			msg[i] = "lorem ipsum dolor sit amet, \"consectetur\"\tadipiscing elit\n"[i%58]
		}
		e.Fields = append(e.Fields, StringField("level", "warn"), StringField("message", string(msg)), ListField("span_ns", list...))
		for i := range 37 {
			n := "attr_" + strconv.Itoa(i)
			switch i % 4 {
			case 0:
				e.Fields = append(e.Fields, IntField(n, int64(i)*-7_777_777))
			case 1:
				e.Fields = append(e.Fields, FloatField(n, float64(i)/3))
			case 2:
				e.Fields = append(e.Fields, StringField(n, "value-"+strconv.Itoa(i*31)))
			case 3:
				e.Fields = append(e.Fields, BoolField(n, i%8 == 3))
			}
		}
		e.Fields[10] = IntField("count", math.MaxInt64) // wraps
		return e, nil
	}
	return nil, fmt.Errorf("unknown event shape %q (have small, typical, large)", name)
}

// Batch returns n events for a pipeline: the shapes in turn (two typical
// for each small and large), each with its own id, timestamp and counts;
// every eighth is dropped (level "debug", or a "drop" tag).
func Batch(n int) []Event {
	order := []string{"typical", "small", "typical", "large"}
	out := make([]Event, n)
	for i := range out {
		e, _ := Shape(order[i%len(order)])
		e.ID += uint64(i)
		e.Timestamp += int64(i) * 1_000_003
		e.Fields = append([]Field(nil), e.Fields...)
		for j := range e.Fields {
			if f := &e.Fields[j]; f.Kind == Int {
				f.Int += int64(i % 97)
			}
		}
		switch i % 16 {
		case 7:
			e.Fields[0] = StringField("level", "debug")
		case 15:
			e.Tags = append(append([]string(nil), e.Tags...), "drop")
		}
		out[i] = *e
	}
	return out
}

// Arbitrary builds an event within the limits from arbitrary bytes, for
// fuzzing: every byte string, every kind, the names and tags the process
// rule looks at ("count", "level", "score", "drop"), extreme ints and
// every finite float. The same data gives the same event.
func Arbitrary(data []byte) *Event {
	r := arb{data: data}
	e := &Event{ID: r.u64(), Timestamp: int64(r.u64()), Origin: r.str()}
	for range r.n(6) {
		e.Tags = append(e.Tags, r.pick("drop", "prod", ""))
	}
	for range r.n(MaxFields - 1) {
		if len(r.data) == 0 {
			break
		}
		name := r.pick("count", "level", "score")
		switch r.n(6) {
		case 0, 1:
			e.Fields = append(e.Fields, IntField(name, int64(r.u64())))
		case 2:
			f := math.Float64frombits(r.u64())
			if math.IsNaN(f) || math.IsInf(f, 0) {
				f = math.Copysign(0, f)
			}
			e.Fields = append(e.Fields, FloatField(name, f))
		case 3:
			e.Fields = append(e.Fields, StringField(name, r.pick("debug", "info", "")))
		case 4:
			e.Fields = append(e.Fields, BoolField(name, r.n(2) == 1))
		case 5:
			var l []int64
			for range r.n(MaxList + 1) {
				l = append(l, int64(r.u64()))
			}
			e.Fields = append(e.Fields, ListField(name, l...))
		}
	}
	return e
}

type arb struct{ data []byte }

func (r *arb) byte() byte {
	if len(r.data) == 0 {
		return 0
	}
	c := r.data[0]
	r.data = r.data[1:]
	return c
}

// n returns a number below max.
func (r *arb) n(max int) int { return int(r.byte()) % max }

func (r *arb) u64() uint64 {
	switch r.n(4) {
	case 0:
		return uint64(r.byte())
	case 1:
		return math.MaxUint64 - uint64(r.byte()) // -1, -2, ...
	case 2:
		return 1<<63 - 2 + uint64(r.byte()%4) // around MaxInt64/MinInt64
	}
	var v uint64
	for range 8 {
		v = v<<8 | uint64(r.byte())
	}
	return v
}

// str takes a length byte and that many bytes (whatever they are).
func (r *arb) str() string {
	n := min(int(r.byte()), len(r.data))
	s := string(r.data[:n])
	r.data = r.data[n:]
	return s
}

// pick returns one of the given strings or an arbitrary one.
func (r *arb) pick(s ...string) string {
	if i := r.n(len(s) + 2); i < len(s) {
		return s[i]
	}
	return r.str()
}

package runtime

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"pimc/backend/isa"
)

// Trace collects a Chrome trace-event timeline (the JSON object format that
// chrome://tracing and Perfetto open): process 1 is the inference, process
// 2 the setup; one thread per engine and one per PIM array used.
type Trace struct {
	events  []traceEvent
	pid     int
	clock   float64 // MHz: cycles per µs
	names   map[[2]int]string
	symbols [isa.NumEngines][]string
}

type traceEvent struct {
	Name string         `json:"name"`
	Cat  string         `json:"cat,omitempty"`
	Ph   string         `json:"ph"`
	Ts   float64        `json:"ts"`
	Dur  float64        `json:"dur,omitempty"`
	Pid  int            `json:"pid"`
	Tid  int            `json:"tid"`
	Args map[string]any `json:"args,omitempty"`
}

// NewTrace returns an empty trace; set it as Machine.Trace before Run.
func NewTrace() *Trace { return &Trace{names: map[[2]int]string{}} }

func (t *Trace) begin(setup bool, p *Program) {
	t.clock = p.h.ClockMHz
	t.pid = 1
	if setup {
		t.pid = 2
	}
	if t.symbols[0] == nil {
		for e := range t.symbols {
			t.symbols[e] = make([]string, len(p.streams[e]))
		}
		for _, s := range p.bin.Syms {
			for j := s.Start; j < s.End; j++ {
				if t.symbols[s.Engine][j] == "" {
					t.symbols[s.Engine][j] = s.Name
				}
			}
		}
	}
}

// tid: engines are 0..3; array i of pool e is 1000·e + i + 1.
func tid(e isa.Engine, arr int) int {
	if arr < 0 {
		return int(e)
	}
	return 1000*int(e) + arr + 1
}

func (t *Trace) event(e isa.Engine, arr int, o *op, start, dur int64) {
	t.add(e, arr, o, float64(start), float64(dur))
}

// eventF records an event with fractional cycle times (the PPU).
func (t *Trace) eventF(e isa.Engine, o *op, start, dur float64) { t.add(e, -1, o, start, dur) }

func (t *Trace) add(e isa.Engine, arr int, o *op, start, dur float64) {
	id := tid(e, arr)
	key := [2]int{t.pid, id}
	if _, ok := t.names[key]; !ok {
		n := e.String()
		if arr >= 0 {
			n = fmt.Sprintf("%s array %d", e, arr)
		}
		t.names[key] = n
	}
	args := map[string]any{"pc": o.index}
	if s := t.symbols[e][o.index]; s != "" {
		args["node"] = s
	}
	if o.n > 0 {
		args["n"] = o.n
	}
	t.events = append(t.events, traceEvent{Name: o.code.String(), Cat: e.String(), Ph: "X",
		Ts: start / t.clock, Dur: dur / t.clock, Pid: t.pid, Tid: id, Args: args})
}

// WriteJSON writes the trace.
func (t *Trace) WriteJSON(w io.Writer) error {
	bw := bufio.NewWriter(w)
	var meta []traceEvent
	meta = append(meta, traceEvent{Name: "process_name", Ph: "M", Pid: 1, Args: map[string]any{"name": "inference"}},
		traceEvent{Name: "process_name", Ph: "M", Pid: 2, Args: map[string]any{"name": "setup (resident weights)"}})
	for _, pid := range []int{1, 2} {
		for e := isa.Engine(0); e < isa.NumEngines; e++ {
			meta = append(meta, traceEvent{Name: "thread_name", Ph: "M", Pid: pid, Tid: int(e), Args: map[string]any{"name": e.String()}})
		}
	}
	for key, n := range t.names {
		if key[1] >= 1000 {
			meta = append(meta, traceEvent{Name: "thread_name", Ph: "M", Pid: key[0], Tid: key[1], Args: map[string]any{"name": n}},
				traceEvent{Name: "thread_sort_index", Ph: "M", Pid: key[0], Tid: key[1], Args: map[string]any{"sort_index": key[1]}})
		}
	}
	sortEvents(meta)
	out := struct {
		TraceEvents     []traceEvent `json:"traceEvents"`
		DisplayTimeUnit string       `json:"displayTimeUnit"`
	}{append(meta, t.events...), "ns"}
	enc := json.NewEncoder(bw)
	if err := enc.Encode(out); err != nil {
		return err
	}
	return bw.Flush()
}

func sortEvents(ev []traceEvent) {
	// Insertion sort by (pid, tid, name): few metadata events, stable output.
	for i := 1; i < len(ev); i++ {
		for j := i; j > 0 && less(ev[j], ev[j-1]); j-- {
			ev[j], ev[j-1] = ev[j-1], ev[j]
		}
	}
}

func less(a, b traceEvent) bool {
	if a.Pid != b.Pid {
		return a.Pid < b.Pid
	}
	if a.Tid != b.Tid {
		return a.Tid < b.Tid
	}
	return a.Name < b.Name
}

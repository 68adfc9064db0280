package cabi

import (
	"errors"
	"fmt"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/event"
)

// Site says where an error happened: the backend, the library's path and
// the export called.
type Site struct {
	Backend, Path, Symbol string
}

// Fail returns err as a *backends.Error at s.
func (s *Site) Fail(err error) error {
	return &backends.Error{Backend: s.Backend, Path: s.Path, Symbol: s.Symbol, Err: err}
}

// Encoded is the host's side of an encoded transport (json, binary,
// flat): plugbench_event_json and its kin read the host's input bytes and
// write their output into the host's output buffer, both in place. A
// backend embeds it and calls the export between [Encoded.Ready] and
// [Encoded.Result], with In and Out as the buffers, until Result says it
// is done.
type Encoded struct {
	Site
	T       event.Transport
	In, Out []byte
	N       int // output length of the last call
}

// Encode encodes in into In.
func (e *Encoded) Encode(in *event.Event) error {
	var err error
	e.In, err = event.Append(e.T, e.In[:0], in)
	e.N = 0
	return err
}

// Ready checks that an event was encoded and makes Out big enough for the
// plugin's first try: twice the input and some.
func (e *Encoded) Ready() error {
	if len(e.In) == 0 {
		return e.Fail(errors.New("call before encode"))
	}
	if want := 2*len(e.In) + 256; len(e.Out) < want {
		e.Out = make([]byte, want)
	}
	return nil
}

// Result takes what the export returned, r: with done false, Out has
// grown (the plugin said PLUGBENCH_ESPACE) and the call must be made
// again; with done true, keep and err are the call's result.
func (e *Encoded) Result(r int64) (done, keep bool, err error) {
	switch n := r; {
	case n == backends.EventNoSpace && len(e.Out) < 1<<24:
		e.Out = make([]byte, 2*len(e.Out))
		return false, false, nil
	case n < 0:
		return true, false, e.Fail(fmt.Errorf("%w: the plugin returned %d", event.ErrMalformed, n))
	case n > int64(len(e.Out)):
		return true, false, e.Fail(fmt.Errorf("the plugin wrote %d bytes into a %d-byte buffer", n, len(e.Out)))
	default:
		e.N = int(n)
		return true, n > 0, nil
	}
}

// Decode decodes the plugin's output of the last call into out.
func (e *Encoded) Decode(out *event.Event) error {
	if e.N == 0 {
		return e.Fail(errors.New("decode without a kept event"))
	}
	if err := event.Decode(e.T, e.Out[:e.N], out); err != nil {
		return e.Fail(fmt.Errorf("decode the plugin's output: %w", err))
	}
	return nil
}

// Moved is the bytes that crossed: the input and the output.
func (e *Encoded) Moved() int { return len(e.In) + e.N }

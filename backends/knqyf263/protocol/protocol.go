// Package protocol is what both ends of backends/knqyf263 share: the host
// (package knqyf263) and the guest (fixtures/go/knqyf263). It holds the
// plugin as a user of knqyf263/go-plugin defines one, in plugbench.proto,
// the code protoc-gen-go-plugin generates from it (`make proto`), and the
// conversion of package event's Event to the protobuf message and back.
//
// The generated files split by build tag: plugbench_host.pb.go and
// plugbench_options.pb.go are the host's (!wasip1: they load the guest on
// wazero), plugbench_plugin.pb.go the guest's (wasip1: its exports and
// the host function's import), and the messages' code serves both.
package protocol

import (
	"github.com/plugbench/plugbench/backends/event"
)

// APIVersion is the plugin ABI the service speaks: its go:plugin version,
// which the generated Load compares with the guest's, and the
// abi_version of Identity's reply, which the backend checks as every
// backend does (backends.CheckArtifact).
const APIVersion = GuestPluginAPIVersion

// ToProto sets m to e. m's Tags and Fields are reused; its strings,
// lists and floats share e's.
func ToProto(e *event.Event, m *Event) {
	m.Id, m.Timestamp, m.Origin = e.ID, e.Timestamp, e.Origin
	m.Tags = append(m.Tags[:0], e.Tags...)
	fs := m.Fields[:0]
	for i := range e.Fields {
		f := &e.Fields[i]
		var pf *Field
		if len(fs) < cap(fs) {
			pf = fs[:len(fs)+1][len(fs)]
		}
		if pf == nil {
			pf = new(Field)
		}
		pf.Name, pf.Kind, pf.Int, pf.Float, pf.Str, pf.Bool, pf.List = f.Name, Kind(f.Kind), 0, nil, "", false, nil
		switch f.Kind {
		case event.Int:
			pf.Int = f.Int
		case event.Float:
			pf.Float = &f.Float
		case event.String:
			pf.Str = f.Str
		case event.Bool:
			pf.Bool = f.Bool
		case event.List:
			pf.List = f.List
		}
		fs = append(fs, pf)
	}
	m.Fields = fs
}

// FromProto sets e to m, reusing e's Tags and Fields; e's strings and
// lists share m's. A field of an unknown kind keeps it, for
// event.Validate to refuse.
func FromProto(m *Event, e *event.Event) {
	e.ID, e.Timestamp, e.Origin = m.Id, m.Timestamp, m.Origin
	e.Tags = append(e.Tags[:0], m.Tags...)
	e.Fields = e.Fields[:0]
	for _, pf := range m.Fields {
		f := event.Field{Name: pf.Name, Kind: event.Kind(pf.Kind)}
		switch f.Kind {
		case event.Int:
			f.Int = pf.Int
		case event.Float:
			if pf.Float != nil {
				f.Float = *pf.Float
			}
		case event.String:
			f.Str = pf.Str
		case event.Bool:
			f.Bool = pf.Bool
		case event.List:
			f.List = pf.List
		}
		e.Fields = append(e.Fields, f)
	}
}

package backends

import (
	"errors"
	"strings"
	"testing"
)

func TestParseIdentity(t *testing.T) {
	id, err := ParseIdentity("lang=c backend=dlopen toolchain=gcc-12.2.0 extra=1")
	if err != nil || id.Lang != "c" || id.Backend != "dlopen" || id.Toolchain != "gcc-12.2.0" {
		t.Errorf("got %+v, %v", id, err)
	}
	for _, bad := range []string{"", "lang=c backend=dlopen", "lang=c nonsense backend=x toolchain=y"} {
		if _, err := ParseIdentity(bad); err == nil {
			t.Errorf("ParseIdentity(%q) succeeded", bad)
		}
	}
}

func TestCheckArtifact(t *testing.T) {
	const id = "lang=c backend=wasm toolchain=clang"
	if _, err := CheckArtifact(ABIVersion, id, "wasm"); err != nil {
		t.Error(err)
	}
	_, err := CheckArtifact(ABIVersion+1, id, "wasm")
	if !errors.Is(err, ErrABIVersion) || err.Error() != "plugin ABI version 2, host expects 1" {
		t.Errorf("version: %v", err)
	}
	if _, err := CheckArtifact(ABIVersion, id, "dlopen"); !errors.Is(err, ErrIdentity) {
		t.Errorf("backend: %v", err)
	}
	e := &Error{Backend: "dlopen", Path: "fixtures/x.so", Err: &VersionError{Got: 2, Want: 1}}
	if got, want := e.Error(), "dlopen: plugin ABI version 2, host expects 1: fixtures/x.so"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestNoInterrupt: the error names its backend once, whether it is
// returned as it is or inside an *Error, and matches ErrNoInterrupt.
func TestNoInterrupt(t *testing.T) {
	for _, err := range []error{
		NoInterrupt("wasm", "it cannot"),
		&Error{Backend: "wasm", Path: "/p.wasm", Err: NoInterruptWhy("it cannot")},
	} {
		if !errors.Is(err, ErrNoInterrupt) {
			t.Errorf("%v: not ErrNoInterrupt", err)
		}
		if msg := err.Error(); strings.Count(msg, "wasm: ") != 1 || !strings.Contains(msg, "WithCallTimeout: it cannot") {
			t.Errorf("%q: want the backend once and the reason", msg)
		}
	}
}

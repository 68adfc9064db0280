//go:build cgo

package wasmtime

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync/atomic"

	wt "github.com/bytecodealliance/wasmtime-go/v39"
)

// cacheMagic begins every file of the disk cache: the format of this
// package's files, then the sha256 of the serialized module that follows.
const cacheMagic = "plugbench-wasmtime-cache 1\n"

// wasmtimeModule is the module whose version keys the cache.
const wasmtimeModule = "github.com/bytecodealliance/wasmtime-go/v39"

// engineKey is what, besides the wasm bytes, a compiled module depends on:
// the wasmtime-go module (and so the Wasmtime library it ships), the engine
// settings this backend uses, and the target.
var engineKey = func() string {
	v := "v39 (build info unavailable)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == wasmtimeModule {
				if d.Replace != nil {
					d = d.Replace
				}
				v = d.Version + " " + d.Sum
			}
		}
	}
	return wasmtimeModule + " " + v + "\nepoch-interruption=1\n" + runtime.GOOS + "/" + runtime.GOARCH + "\n"
}()

// Counters of the disk cache, for tests: modules read from it, and written.
var cacheHits, cacheWrites atomic.Int64

// cachePath is the file of the module compiled from bin.
func (b *backend) cachePath(bin []byte) string {
	h := sha256.New()
	h.Write([]byte(engineKey))
	h.Write(bin)
	return filepath.Join(b.cacheDir, hex.EncodeToString(h.Sum(nil))+".cwasm")
}

// compile compiles bin, or, with a disk cache, deserializes the module this
// backend compiled from it before, and otherwise compiles it and writes it
// there. A cache file that is unreadable, foreign or corrupt is ignored and
// overwritten: the cache never makes a load fail.
func (b *backend) compile(bin []byte) (*wt.Module, error) {
	if b.cacheDir == "" {
		return wt.NewModule(b.engine, bin)
	}
	path := b.cachePath(bin)
	if wm := b.cacheRead(path); wm != nil {
		cacheHits.Add(1)
		return wm, nil
	}
	wm, err := wt.NewModule(b.engine, bin)
	if err != nil {
		return nil, err
	}
	if ser, err := wm.Serialize(); err == nil && b.cacheWrite(path, ser) == nil {
		cacheWrites.Add(1)
	}
	return wm, nil
}

// cacheRead deserializes the module in file path, if this backend wrote it:
// Wasmtime trusts what it deserializes (it is machine code), so the file
// must begin with cacheMagic and the sha256 of the rest. That catches a
// truncated, corrupt or foreign file, not a forged one: the directory must
// be writable only by whom the host trusts.
func (b *backend) cacheRead(path string) *wt.Module {
	f, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	rest, ok := bytes.CutPrefix(f, []byte(cacheMagic))
	if !ok || len(rest) < sha256.Size {
		return nil
	}
	sum, ser := rest[:sha256.Size], rest[sha256.Size:]
	if h := sha256.Sum256(ser); !bytes.Equal(h[:], sum) {
		return nil
	}
	wm, err := wt.NewModuleDeserialize(b.engine, ser)
	if err != nil {
		return nil // another Wasmtime's, or other engine settings
	}
	return wm
}

// cacheWrite writes ser to path under a temporary name first and renames
// it: a concurrent reader sees the whole file or none.
func (b *backend) cacheWrite(path string, ser []byte) error {
	f, err := os.CreateTemp(b.cacheDir, ".tmp-*.cwasm")
	if err != nil {
		return err
	}
	sum := sha256.Sum256(ser)
	_, err = f.Write(append([]byte(cacheMagic), sum[:]...))
	if err == nil {
		_, err = f.Write(ser)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

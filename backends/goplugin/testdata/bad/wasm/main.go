// Command wasm is a Go plugin for goplugin's load-error tests (see ../doc.go).
package main

func main() {}

// Identity returns the plugin's identity.
func Identity() string { return identity }

// Min returns the smaller of a and b.
func Min(a, b int32) int32 { return min(a, b) }

var identity = "lang=go backend=wasm toolchain=test"

func ABIVersion() int32 { return 1 }

func New(func(int64) int64) any { return nil }

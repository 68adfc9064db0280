// Package bad holds Go plugins that are each wrong in one way, for
// goplugin's load-error tests: nonew lacks New, type exports ABIVersion as
// a variable, v2 speaks ABI version 2, wasm says it was built for the wasm
// backend, and method's New returns a value without most of the methods.
// Each is its own main package, so each has a plugin path of its own and
// all load in one process.
package bad

package elfcheck

import "runtime"

// What the tests of package elfcheck_test need of the checker's insides.

// Described reports whether Check describes the running GOARCH.
func Described() bool {
	_, ok := hostELFs[runtime.GOARCH]
	return ok
}

// PhdrSize is the size of an ELF64 program header.
const PhdrSize = phdrSize

// Span formats a range as Check's messages do.
var Span = span

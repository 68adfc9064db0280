//go:build !cgo

package cgoref

// Available reports whether this build has cgo.
const Available = false

// Min is unavailable without cgo; callers check Available first.
func Min(fn uintptr, a, b int32) int32 {
	panic("cgoref: built without cgo")
}

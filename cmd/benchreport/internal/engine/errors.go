package engine

// A UsageError is a bad command line: a flag value or a projection
// that does not parse. The program reports it and exits with status 2.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

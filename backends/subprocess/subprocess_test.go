package subprocess

import (
	"testing"

	"github.com/plugbench/plugbench/backends/internal/ipc/ipctest"
)

func TestMain(m *testing.M) { ipctest.Main(m) }

func TestLoadErrors(t *testing.T) { ipctest.LoadErrors(t, Backend()) }
func TestIdentity(t *testing.T)   { ipctest.Identity(t, Backend()) }
func TestCalls(t *testing.T)      { ipctest.Calls(t, Backend()) }
func TestEvents(t *testing.T)     { ipctest.Events(t, Backend()) }
func TestCallbacks(t *testing.T)  { ipctest.Callbacks(t, Backend()) }
func TestClosed(t *testing.T)     { ipctest.Closed(t, Backend()) }
func TestFaults(t *testing.T)     { ipctest.Faults(t, Backend()) }
func TestParallel(t *testing.T)   { ipctest.Parallel(t, Backend()) }

// TestLeaks runs -ipc.cycles (1000) load/instantiate/close cycles.
func TestLeaks(t *testing.T) { ipctest.Leaks(t, Backend()) }

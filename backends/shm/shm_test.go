package shm

import (
	"testing"

	"github.com/plugbench/plugbench/backends/internal/ipc/ipctest"
)

func TestMain(m *testing.M) { ipctest.Main(m) }

func TestLoadErrors(t *testing.T) { ipctest.LoadErrors(t, Backend()) }
func TestBackend(t *testing.T)    { ipctest.Backend(t, Backend()) }
func TestFaults(t *testing.T)     { ipctest.Faults(t, Backend()) }
func TestParallel(t *testing.T)   { ipctest.Parallel(t, Backend()) }

// TestLeaks runs -ipc.cycles (1000) load/instantiate/close cycles.
func TestLeaks(t *testing.T) { ipctest.Leaks(t, Backend()) }

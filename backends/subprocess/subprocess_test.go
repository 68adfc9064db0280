package subprocess

import (
	"testing"

	"github.com/plugbench/plugbench/backends/backendstest"
	"github.com/plugbench/plugbench/backends/internal/ipc/ipctest"
)

func TestMain(m *testing.M) { ipctest.Main(m) }

func TestLoadErrors(t *testing.T) { ipctest.LoadErrors(t, backendstest.New(t, New, Config{})) }
func TestBackend(t *testing.T)    { ipctest.Backend(t, backendstest.New(t, New, Config{})) }
func TestFaults(t *testing.T)     { ipctest.Faults(t, backendstest.New(t, New, Config{})) }
func TestParallel(t *testing.T)   { ipctest.Parallel(t, backendstest.New(t, New, Config{})) }

// TestLeaks runs -ipc.cycles (1000) load/instantiate/close cycles.
func TestLeaks(t *testing.T) { ipctest.Leaks(t, backendstest.New(t, New, Config{})) }

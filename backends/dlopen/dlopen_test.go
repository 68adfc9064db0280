package dlopen

import (
	"context"
	"testing"
	"time"

	"github.com/plugbench/plugbench/backends/backendstest"
	"github.com/plugbench/plugbench/backends/internal/cabi/cabitest"
	"github.com/plugbench/plugbench/fixtures"
)

func TestBackend(t *testing.T) {
	backendstest.TestBackend(t, backendstest.Kit{Backend: backendstest.New(t, New, Config{}), Guests: map[string]string{"c": cabitest.Build(t, fixtures.SOName)}})
}

func TestLoadErrors(t *testing.T) {
	cabitest.LoadErrors(t, backendstest.New(t, New, Config{}), IsMapped)
}

func TestCloseUnmaps(t *testing.T) {
	cabitest.CloseUnmaps(t, backendstest.New(t, New, Config{}), IsMapped)
}

func TestNewRefusesANegativeProbeTimeout(t *testing.T) {
	if be, err := New(context.Background(), Config{ProbeTimeout: -time.Second}); err == nil || be != nil {
		t.Errorf("New with ProbeTimeout -1s: %v, %v", be, err)
	}
}

package plugbench

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/plugbench/plugbench/cmd/benchreport/internal/engine"
)

// makeCharts draws the report's charts: per-call cost relative to the
// baseline (Call and Parallel), payload cost against size, and setup
// phases per backend. Charts whose data is absent are skipped.
func makeCharts(rep *engine.Report) ([]engine.Chart, error) {
	var out []engine.Chart
	files := engine.DistinctFiles(rep)
	for fi, file := range files {
		suffix, prefix := "", ""
		if len(files) > 1 {
			suffix, prefix = "-"+strconv.Itoa(fi+1), file+": "
		}
		for _, bench := range []string{"Call", "Parallel"} {
			t := engine.FindTable(rep, file, bench, "sec/op")
			if t == nil {
				continue
			}
			title := fmt.Sprintf("%s%s cost relative to %s (sec/op, log scale, %g%% CI)", prefix, bench, rep.Baseline, 100*rep.Confidence)
			if c, err := engine.RatioChart(t, strings.ToLower(bench)+"-ratio"+suffix, title, rep.Baseline); err != nil {
				return nil, err
			} else if c != nil {
				out = append(out, *c)
			}
		}
		if t := engine.FindTable(rep, file, "Payload", "sec/op"); t != nil {
			title := fmt.Sprintf("%sPayload cost by size (sec/op, log–log, %g%% CI)", prefix, 100*rep.Confidence)
			cs, err := engine.PayloadCharts(t, "payload"+suffix, title)
			if err != nil {
				return nil, err
			}
			out = append(out, cs...)
		}
		if t := engine.FindTable(rep, file, "Setup", "sec/op"); t != nil {
			title := fmt.Sprintf("%sSetup phases per backend (sec/op, log scale, %g%% CI)", prefix, 100*rep.Confidence)
			if c, err := engine.KeyChart(t, "setup"+suffix, title, "phase"); err != nil {
				return nil, err
			} else if c != nil {
				out = append(out, *c)
			}
		}
		cs, err := eventCharts(rep, file, prefix, suffix)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

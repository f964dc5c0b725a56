package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"testing"
)

// TestBenchRuns runs the whole harness, server included, with a small N, so that `make bench` cannot rot.
func TestBenchRuns(t *testing.T) {
	if os.Getenv("CHTEST_SKIP") == "1" {
		t.Skip("CHTEST_SKIP=1")
	}
	var out bytes.Buffer
	c := config{n: 5_000, seed: 1, runs: 3, tenants: 150, sinkN: 2_000, inFlight: []int{1, 2}}
	if err := run(context.Background(), &out, c); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	for _, line := range []string{
		`5000 events, 5000 rows after OPTIMIZE FINAL`, `parameters: .* tenant=Project/[a-z]+-[a-z]+-000 `,
		`table events: 5000 rows`, `table changes: [1-9][0-9]* rows`,
		`bytes/row on disk \(all tables\)\s+[0-9.]+\s+<= 100`,
		`insert rows/s\s+[0-9]+\s+>= 100000`,
		`insert rows/s as the aggregator's sink \(2000 events, 1 in flight\)\s+[0-9]+`,
		`insert rows/s as the aggregator's sink \(2000 events, 2 in flight\)\s+[0-9]+`,
		`Q1 median ms .*<= 10`, `Q1L median ms .*<= 10`, `Q2 median ms .*<= 20`, `Q2b median ms .*<= 20`, `Q3 median ms .*<= 10`, `Q3L median ms .*<= 10`, `Q4 median ms .*<= 10`, `Q5 median ms .*<= 20`,
		`Q1P \(Q1 by the plugin.*<= \+2`, `Q2P \(Q2's object by the plugin.*<= \+2`, `Q3P \(Q3 by the plugin.*<= \+2`,
	} {
		if !regexp.MustCompile(line).MatchString(out.String()) {
			t.Errorf("output lacks %q", line)
		}
	}
}

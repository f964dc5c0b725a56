package retention

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
	"github.com/auditpipeline/auditpipeline-operator/internal/tiering"
)

func TestTTLOfEngineAndFormattedAlter(t *testing.T) {
	if got := TTLOfEngine("MergeTree ORDER BY event_time SETTINGS index_granularity = 8192"); got != "" {
		t.Errorf("no TTL: got %q", got)
	}
	if got := TTLOfEngine("MergeTree ORDER BY event_time TTL toDateTime(event_time) + toIntervalDay(365) SETTINGS index_granularity = 8192"); got != "toDateTime(event_time) + toIntervalDay(365)" {
		t.Errorf("TTL = %q", got)
	}
	got, err := TTLOfFormattedAlter("ALTER TABLE t (MODIFY TTL toDateTime(event_time) + toIntervalDay(90) TO VOLUME 'cold')")
	if err != nil || got != "toDateTime(event_time) + toIntervalDay(90) TO VOLUME 'cold'" {
		t.Errorf("TTL = %q, %v", got, err)
	}
}

func TestShortens(t *testing.T) {
	year := "toDateTime(event_time) + toIntervalDay(365)"
	month := "toDateTime(event_time) + toIntervalDay(30)"
	move := "toDateTime(event_time) + toIntervalDay(90) TO VOLUME 'cold'"
	cases := []struct {
		from, to string
		want     bool
	}{
		{"", year, true},
		{year, month, true},
		{month, year, false},
		{year, move + ", " + year, true},
		{move + ", " + year, year, false},
		{year, "", false},
	}
	for _, c := range cases {
		if got := Shortens(c.from, c.to); got != c.want {
			t.Errorf("Shortens(%q, %q) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
}

// TestReconcileTTLOnARealServer changes the retention of a live table the way the controller does.
func TestReconcileTTLOnARealServer(t *testing.T) {
	srv := chtest.New(t, chtest.Options{})
	db, conn := srv.NewDatabase(t)
	sqlDB := srv.OpenDB("default")
	t.Cleanup(func() { _ = sqlDB.Close() })
	ctx := context.Background()
	if err := conn.Exec(ctx, "CREATE TABLE "+db+".events (event_time DateTime64(3, 'UTC')) ENGINE = MergeTree ORDER BY event_time"); err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(ctx, "INSERT INTO "+db+".events VALUES (now64() - INTERVAL 400 DAY), (now64() - INTERVAL 60 DAY), (now64())"); err != nil {
		t.Fatal(err)
	}
	count := func() uint64 {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".events").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	retention := func(days int) string {
		if days == 0 {
			return ""
		}
		d := metav1.Duration{Duration: time.Duration(days) * 24 * time.Hour}
		return tiering.TTL(&v1alpha1.ClickHouseSpec{Retention: &v1alpha1.RetentionSpec{DeleteAfter: &d}}, EventTimeColumn)
	}
	table := Table{Database: db, Name: "events"}
	steps := []struct {
		name                  string
		days                  int
		changed, materialized bool
		rows                  uint64
	}{
		{"a new rule removes the expired row at once", 365, true, true, 2},
		{"the same rule again changes nothing", 365, false, false, 2},
		{"a longer rule is not materialized", 730, true, false, 2},
		{"a shorter rule is", 30, true, true, 1},
		{"no retention removes the TTL", 0, true, false, 1},
		{"and stays removed", 0, false, false, 1},
	}
	for _, s := range steps {
		res, err := ReconcileTTL(ctx, sqlDB, table, retention(s.days))
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if res.Changed != s.changed || res.Materialized != s.materialized {
			t.Errorf("%s: changed=%v materialized=%v, want %v %v", s.name, res.Changed, res.Materialized, s.changed, s.materialized)
		}
		if s.days > 0 && res.InForce == "" || s.days == 0 && res.InForce != "" {
			t.Errorf("%s: TTL in force = %q", s.name, res.InForce)
		}
		if s.materialized {
			// MATERIALIZE TTL runs as a mutation: wait for it.
			deadline := time.Now().Add(20 * time.Second)
			for count() != s.rows && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
			}
		}
		if n := count(); n != s.rows {
			t.Errorf("%s: %d rows, want %d", s.name, n, s.rows)
		}
	}
}

package retention

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/migrate"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
	"github.com/auditpipeline/auditpipeline-operator/internal/tiering"
	"github.com/auditpipeline/auditpipeline-operator/migrations"
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
	recompress := "toDateTime(event_time) RECOMPRESS CODEC(ZSTD(6))"
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
		// Tenants' overrides: a new override, or one removed, changes the default's WHERE.
		{year, month + " WHERE tenant = 'a', " + year + " WHERE NOT (tenant = 'a')", true},
		{month + " WHERE tenant = 'a', " + year + " WHERE NOT (tenant = 'a')", year, true},
		{month + " WHERE tenant = 'a', " + year + " WHERE NOT (tenant = 'a')", year + " WHERE tenant = 'a', " + year + " WHERE NOT (tenant = 'a')", false},
		{year + " WHERE tenant = 'a, b', " + year + " WHERE NOT (tenant = 'a, b')", month + " WHERE tenant = 'a, b', " + year + " WHERE NOT (tenant = 'a, b')", true},
		// A rule whose age is not one interval counts as shorter whenever it changes.
		{"toDateTime(event_time) + toIntervalDay(multiIf(tenant = 'a', 30, 90)) TO VOLUME 'cold'", "toDateTime(event_time) + toIntervalDay(multiIf(tenant = 'a', 60, 90)) TO VOLUME 'cold'", true},
		{"toDateTime(event_time) + toIntervalDay(multiIf(tenant = 'a', 30, 90)) TO VOLUME 'cold'", "toDateTime(event_time) + toIntervalDay(multiIf(tenant = 'a', 30, 90)) TO VOLUME 'cold'", false},
		// The recompression in merges is never materialized, new or changed; the rules beside it are judged
		// as without it.
		{"", recompress, false},
		{recompress, "toDateTime(event_time) RECOMPRESS CODEC(ZSTD(9))", false},
		{recompress + ", " + year, recompress + ", " + month, true},
		{recompress + ", " + month, recompress + ", " + year, false},
		{year, recompress + ", " + year, false},
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
		if days < 0 {
			return ""
		}
		spec := &v1alpha1.ClickHouseSpec{}
		if days > 0 {
			d := metav1.Duration{Duration: time.Duration(days) * 24 * time.Hour}
			spec.Retention = &v1alpha1.RetentionSpec{DeleteAfter: &d}
		}
		return tiering.TTL(spec, EventTimeColumn)
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
		{"no retention keeps the recompression only", 0, true, false, 1},
		{"and changes nothing next time", 0, false, false, 1},
		{"an empty TTL removes it", -1, true, false, 1},
		{"and it stays removed", -1, false, false, 1},
	}
	for _, s := range steps {
		res, err := ReconcileTTL(ctx, sqlDB, table, retention(s.days))
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if res.Changed != s.changed || res.Materialized != s.materialized {
			t.Errorf("%s: changed=%v materialized=%v, want %v %v", s.name, res.Changed, res.Materialized, s.changed, s.materialized)
		}
		if s.days >= 0 && res.InForce == "" || s.days < 0 && res.InForce != "" {
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

// TestTenantRetentionOnARealServer applies a tenant's override on the migrated audit tables: once the TTL
// is materialized, the short-retention tenant's old rows are gone, every other tenant's rows are all
// still there, and a second reconcile changes nothing.
func TestTenantRetentionOnARealServer(t *testing.T) {
	srv := chtest.New(t, chtest.Options{})
	sqlDB := srv.OpenDB("")
	t.Cleanup(func() { _ = sqlDB.Close() })
	ctx := context.Background()
	db, _ := srv.NewDatabase(t)
	ms, err := migrate.Load(migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.New(sqlDB, ms, migrate.Options{Database: db})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(ctx, "latest"); err != nil {
		t.Fatal(err)
	}
	// Three tenants, the same name under two types, each with writes of 200, 60 and 0 days ago.
	tenants := [][2]string{{"Project", "short"}, {"Organization", "short"}, {"Project", "o'brien"}, {"Project", "long"}, {"", ""}}
	for i, tn := range tenants {
		for _, days := range []int{200, 60, 0} {
			stmt := fmt.Sprintf("INSERT INTO %s.events (tenant_type, tenant, event_time, audit_id, verb, rest) "+
				"SELECT ?, ?, now64(6) - INTERVAL %d DAY, generateUUIDv4(), 'update', '{}' FROM numbers(%d)", db, days, 10+i)
			if _, err := sqlDB.ExecContext(ctx, stmt, tn[0], tn[1]); err != nil {
				t.Fatal(err)
			}
		}
	}
	count := func(table string, tn [2]string) uint64 {
		var n uint64
		if err := sqlDB.QueryRowContext(ctx, "SELECT count() FROM "+db+"."+table+" FINAL WHERE tenant_type = ? AND tenant = ?", tn[0], tn[1]).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	year := metav1.Duration{Duration: 365 * 24 * time.Hour}
	spec := &v1alpha1.ClickHouseSpec{Retention: &v1alpha1.RetentionSpec{DeleteAfter: &year, Tenants: []v1alpha1.TenantRetention{
		{Tenant: "short", TenantType: "Project", DeleteAfter: metav1.Duration{Duration: 30 * 24 * time.Hour}},
		{Tenant: "o'brien", DeleteAfter: metav1.Duration{Duration: 100 * 24 * time.Hour}},
		{Tenant: "long", DeleteAfter: metav1.Duration{Duration: 3 * 365 * 24 * time.Hour}},
		// Keywords inside a tenant's name end nothing (a second reconcile must still change nothing).
		{Tenant: "x SETTINGS y TTL z, a) OR (1", DeleteAfter: metav1.Duration{Duration: 40 * 24 * time.Hour}},
	}}}
	desired := tiering.TTL(spec, EventTimeColumn)
	for _, table := range migrations.Tables {
		res, err := ReconcileTTL(ctx, sqlDB, Table{Database: db, Name: table}, desired)
		if err != nil {
			t.Fatalf("%s: %v\n%s", table, err, desired)
		}
		if !res.Changed || !res.Materialized || !strings.Contains(res.InForce, "WHERE") {
			t.Errorf("%s: %+v", table, res)
		}
	}
	want := func(i int, kept int) uint64 { return uint64(kept * (10 + i)) }
	expect := []uint64{want(0, 1), want(1, 3), want(2, 2), want(3, 3), want(4, 3)}
	for _, table := range migrations.Tables {
		deadline := time.Now().Add(30 * time.Second)
		for i, tn := range tenants {
			n := count(table, tn)
			for n != expect[i] && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
				n = count(table, tn)
			}
			if n != expect[i] {
				t.Errorf("%s, tenant %q of type %q: %d rows, want %d", table, tn[1], tn[0], n, expect[i])
			}
		}
	}
	for _, table := range migrations.Tables {
		res, err := ReconcileTTL(ctx, sqlDB, Table{Database: db, Name: table}, desired)
		if err != nil || res.Changed {
			t.Errorf("%s, second reconcile: %+v, %v", table, res, err)
		}
	}
}

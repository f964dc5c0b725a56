package chtest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
)

// hotCold gives the shared server a storage policy with two local disks inside the server's directory.
const hotCold = `<clickhouse>
    <storage_configuration>
        <disks>
            <hot><path>disks/hot/</path></hot>
            <cold><path>disks/cold/</path></cold>
        </disks>
        <policies>
            <hot_cold>
                <volumes>
                    <hot><disk>hot</disk></hot>
                    <cold><disk>cold</disk></cold>
                </volumes>
            </hot_cold>
        </policies>
    </storage_configuration>
</clickhouse>
`

func TestMain(m *testing.M) {
	chtest.MainWithOptions(m, chtest.Options{Keeper: true, ConfigXML: hotCold})
}

func TestQueryOverNativeAndHTTP(t *testing.T) {
	s := chtest.Shared(t)
	ctx := context.Background()

	conn, err := s.Conn("")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var version, tz string
	if err := conn.QueryRow(ctx, "SELECT version(), timezone()").Scan(&version, &tz); err != nil {
		t.Fatalf("native: %v", err)
	}
	if tz != "UTC" {
		t.Errorf("server time zone %q, want UTC", tz)
	}
	t.Logf("ClickHouse %s on %s (native) and %s (HTTP)", version, s.Addr, s.HTTPAddr)

	db := clickhouse.OpenDB(s.HTTPOptions(""))
	defer db.Close()
	var sum uint64
	if err := db.QueryRowContext(ctx, "SELECT sum(number) FROM numbers(10)").Scan(&sum); err != nil {
		t.Fatalf("http: %v", err)
	}
	if sum != 45 {
		t.Errorf("http: sum = %d, want 45", sum)
	}
}

func TestMergeTreeWithTTLAndCodec(t *testing.T) {
	_, conn := chtest.NewDatabase(t)
	ctx := context.Background()
	err := conn.Exec(ctx, `CREATE TABLE events (
		ts DateTime64(3, 'UTC') CODEC(Delta, ZSTD(3)),
		id UInt64,
		verb LowCardinality(String),
		body String CODEC(ZSTD(1))
	) ENGINE = MergeTree
	PARTITION BY toYYYYMMDD(ts)
	ORDER BY (ts, id)
	TTL toDateTime(ts) + INTERVAL 30 DAY DELETE`)
	if err != nil {
		t.Fatal(err)
	}

	batch, err := conn.PrepareBatch(ctx, "INSERT INTO events")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().UTC().Truncate(time.Millisecond)
	const rows = 1000
	for i := range rows {
		ts := start.Add(time.Duration(i) * time.Millisecond)
		if err := batch.Append(ts, uint64(i), "create", fmt.Sprintf(`{"n":%d}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}

	var count uint64
	var first time.Time
	if err := conn.QueryRow(ctx, "SELECT count(), min(ts) FROM events").Scan(&count, &first); err != nil {
		t.Fatal(err)
	}
	if count != rows || !first.Equal(start) {
		t.Errorf("count, min(ts) = %d, %s; want %d, %s", count, first, rows, start)
	}
	var codec, ttl string
	err = conn.QueryRow(ctx, `SELECT
		(SELECT compression_codec FROM system.columns WHERE database = currentDatabase() AND table = 'events' AND name = 'ts'),
		(SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'events')`).Scan(&codec, &ttl)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(codec, "ZSTD(3)") || !strings.Contains(ttl, "TTL") {
		t.Errorf("codec %q, engine %q: want ZSTD(3) and a TTL", codec, ttl)
	}
}

func TestMoveToColdVolume(t *testing.T) {
	db, conn := chtest.NewDatabase(t)
	ctx := context.Background()
	err := conn.Exec(ctx, `CREATE TABLE logs (day Date, msg String)
		ENGINE = MergeTree PARTITION BY day ORDER BY day
		SETTINGS storage_policy = 'hot_cold'`)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(ctx, "INSERT INTO logs VALUES ('2026-01-01', 'a'), ('2026-01-02', 'b')"); err != nil {
		t.Fatal(err)
	}
	if got := partDisks(t, conn, db); got != "20260101=hot 20260102=hot" {
		t.Fatalf("parts before the move: %s", got)
	}
	if err := conn.Exec(ctx, "ALTER TABLE logs MOVE PARTITION '2026-01-01' TO VOLUME 'cold'"); err != nil {
		t.Fatal(err)
	}
	if got := partDisks(t, conn, db); got != "20260101=cold 20260102=hot" {
		t.Errorf("parts after the move: %s", got)
	}
}

// partDisks lists the active parts of db.logs as partition=disk.
func partDisks(t *testing.T, conn driver.Conn, db string) string {
	t.Helper()
	rows, err := conn.Query(context.Background(),
		"SELECT partition_id, disk_name FROM system.parts WHERE database = ? AND table = 'logs' AND active ORDER BY partition", db)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var partition, disk string
		if err := rows.Scan(&partition, &disk); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, partition+"="+disk)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(parts, " ")
}

func TestKeeperMapStrictModeRejectsExistingKey(t *testing.T) {
	db, conn := chtest.NewDatabase(t)
	ctx := context.Background()
	err := conn.Exec(ctx, fmt.Sprintf(
		"CREATE TABLE locks (name String, owner String) ENGINE = KeeperMap('/%s/locks') PRIMARY KEY name", db))
	if err != nil {
		t.Fatal(err)
	}
	strict := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"keeper_map_strict_mode": 1}))
	if err := conn.Exec(strict, "INSERT INTO locks VALUES ('migrate', 'a')"); err != nil {
		t.Fatalf("first insert: %v", err)
	}
	err = conn.Exec(strict, "INSERT INTO locks VALUES ('migrate', 'b')")
	if err == nil || !strings.Contains(err.Error(), "Node exists") {
		t.Fatalf("second insert of the same key: got %v, want an error with \"Node exists\"", err)
	}
	var owner string
	if err := conn.QueryRow(ctx, "SELECT owner FROM locks WHERE name = 'migrate'").Scan(&owner); err != nil {
		t.Fatal(err)
	}
	if owner != "a" {
		t.Errorf("owner = %q, want the first writer, a", owner)
	}
}

func TestNewDatabaseIsolation(t *testing.T) {
	dbA, connA := chtest.NewDatabase(t)
	dbB, connB := chtest.NewDatabase(t)
	if dbA == dbB {
		t.Fatalf("two calls gave the same database %s", dbA)
	}
	ctx := context.Background()
	for _, conn := range []driver.Conn{connA, connB} {
		if err := conn.Exec(ctx, "CREATE TABLE t (x UInt8) ENGINE = MergeTree ORDER BY x"); err != nil {
			t.Fatal(err)
		}
	}
	if err := connA.Exec(ctx, "INSERT INTO t VALUES (1), (2)"); err != nil {
		t.Fatal(err)
	}
	var n uint64
	if err := connB.QueryRow(ctx, "SELECT count() FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%s.t has %d rows written through %s", dbB, n, dbA)
	}

	// The database is dropped when its test ends.
	var inner string
	t.Run("sub", func(t *testing.T) { inner, _ = chtest.NewDatabase(t) })
	var exists uint64
	if err := connA.QueryRow(ctx, "SELECT count() FROM system.databases WHERE name = ?", inner).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists != 0 {
		t.Errorf("database %s still exists after its test ended", inner)
	}
}

func TestStopLeavesNothingBehind(t *testing.T) {
	s := chtest.New(t, chtest.Options{})
	conn, err := s.Conn("")
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	conn.Close()

	pid := s.Pid()
	start := time.Now()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped in %s", time.Since(start).Round(time.Millisecond))
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d still exists after Stop: kill(0) = %v", pid, err)
	}
	for _, addr := range []string{s.Addr, s.HTTPAddr} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("port %s not free after Stop: %v", addr, err)
			continue
		}
		l.Close()
	}
	if _, err := os.Stat(s.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory %s still there after Stop: %v", s.Dir, err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

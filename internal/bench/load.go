package bench

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/auditpipeline/auditpipeline-operator/internal/migrate"
	"github.com/auditpipeline/auditpipeline-operator/migrations"
)

// BatchSize is the aggregator's batch (DESIGN.md: 10,000 events per insert).
const BatchSize = 10_000

// Migrate applies the embedded migrations to database on a single node (no storage policy).
func Migrate(ctx context.Context, db *sql.DB, database string) error {
	ms, err := migrate.Load(migrations.FS)
	if err != nil {
		return err
	}
	m, err := migrate.New(db, ms, migrate.Options{Database: database})
	if err != nil {
		return err
	}
	_, err = m.Up(ctx, migrate.LatestTarget)
	return err
}

// LoadStats is what inserting took.
type LoadStats struct {
	Rows int
	// Insert is the time spent appending rows to batches and sending them (generation excluded);
	// Send the part of it spent in Send (the server's share: decompress, sort, compress, write).
	Insert, Send time.Duration
}

// RowsPerSecond is the insert throughput.
func (s LoadStats) RowsPerSecond() float64 {
	if s.Insert <= 0 {
		return 0
	}
	return float64(s.Rows) / s.Insert.Seconds()
}

// Load inserts rows into database.events in batches of BatchSize. next returns the next row and false
// when there is none; it runs outside the timed part (a batch is generated, then inserted).
func Load(ctx context.Context, conn driver.Conn, database string, next func() (Row, bool, error)) (LoadStats, error) {
	var st LoadStats
	rows := make([]Row, 0, BatchSize)
	for done := false; !done; {
		rows = rows[:0]
		for len(rows) < BatchSize {
			r, ok, err := next()
			if err != nil {
				return st, err
			}
			if !ok {
				done = true
				break
			}
			rows = append(rows, r)
		}
		if len(rows) == 0 {
			break
		}
		start := time.Now()
		send, err := insert(ctx, conn, database, rows)
		if err != nil {
			return st, err
		}
		st.Send += send
		st.Insert += time.Since(start)
		st.Rows += len(rows)
	}
	return st, nil
}

// columns are the table's columns in the order insert sends them.
var columns = []string{
	"event_time", "audit_id", "stage", "level", "verb", "user", "user_uid", "user_groups", "impersonated_user",
	"source_ip", "user_agent", "api_group", "api_version", "resource", "subresource", "namespace", "name",
	"response_code", "request_received_at", "stage_at", "event_json",
}

// insert sends rows as one batch, column by column (clickhouse-go's columnar API: no reflection per row).
func insert(ctx context.Context, conn driver.Conn, database string, rows []Row) (send time.Duration, err error) {
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+database+".events ("+strings.Join(columns, ", ")+")")
	if err != nil {
		return 0, fmt.Errorf("prepare batch: %w", err)
	}
	n := len(rows)
	var (
		eventTime, received, stageAt                    = make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
		auditID                                         = make([]uuid.UUID, n)
		stage, level, verb, user, userUID, impersonated = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		groups                                          = make([][]string, n)
		sourceIP                                        = make([]net.IP, n)
		agent, group, version, resource, sub, ns, name  = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		code                                            = make([]uint16, n)
		js                                              = make([]string, n)
	)
	for i := range rows {
		r := &rows[i]
		eventTime[i], auditID[i], stage[i], level[i], verb[i], user[i], userUID[i] = r.EventTime, r.AuditID, r.Stage, r.Level, r.Verb, r.User, r.UserUID
		groups[i], impersonated[i], sourceIP[i], agent[i] = r.UserGroups, r.ImpersonatedUser, r.SourceIP, r.UserAgent
		group[i], version[i], resource[i], sub[i], ns[i], name[i] = r.APIGroup, r.APIVersion, r.Resource, r.Subresource, r.Namespace, r.Name
		code[i], received[i], stageAt[i], js[i] = r.ResponseCode, r.RequestReceivedAt, r.StageAt, r.EventJSON
	}
	for i, col := range []any{eventTime, auditID, stage, level, verb, user, userUID, groups, impersonated,
		sourceIP, agent, group, version, resource, sub, ns, name, code, received, stageAt, js} {
		if err := b.Column(i).Append(col); err != nil {
			_ = b.Abort()
			return 0, fmt.Errorf("append column %s: %w", columns[i], err)
		}
	}
	start := time.Now()
	if err := b.Send(); err != nil {
		return 0, fmt.Errorf("send batch of %d rows: %w", len(rows), err)
	}
	return time.Since(start), nil
}

// Optimize merges every partition of the table into one part, dropping duplicates by sorting key.
func Optimize(ctx context.Context, conn driver.Conn, database string) (time.Duration, error) {
	start := time.Now()
	if err := conn.Exec(ctx, "OPTIMIZE TABLE "+database+".events FINAL"); err != nil {
		return 0, fmt.Errorf("optimize: %w", err)
	}
	return time.Since(start), nil
}

// Storage is the table's size on disk.
type Storage struct {
	Rows uint64
	// Bytes is bytes_on_disk of the active parts plus their projections.
	Bytes           uint64
	ProjectionBytes uint64
	Parts           uint64
	// Columns is each column's compressed size, largest first.
	Columns []ColumnSize
}

// ColumnSize is one column's share.
type ColumnSize struct {
	Name         string
	Compressed   uint64
	Uncompressed uint64
}

// BytesPerRow is the size on disk divided by the rows.
func (s Storage) BytesPerRow() float64 {
	if s.Rows == 0 {
		return 0
	}
	return float64(s.Bytes) / float64(s.Rows)
}

// MeasureStorage reads the table's size from system.parts, system.projection_parts and system.columns.
func MeasureStorage(ctx context.Context, conn driver.Conn, database string) (Storage, error) {
	ctx = withParams(ctx, clickhouse.Parameters{"db": database})
	var s Storage
	if err := conn.QueryRow(ctx, `SELECT toUInt64(sum(rows)), toUInt64(sum(bytes_on_disk)), count() FROM system.parts
		WHERE active AND database = {db:String} AND table = 'events'`).Scan(&s.Rows, &s.Bytes, &s.Parts); err != nil {
		return s, fmt.Errorf("read system.parts: %w", err)
	}
	var hasProjections uint64
	if err := conn.QueryRow(ctx, `SELECT count() FROM system.tables WHERE database = 'system' AND name = 'projection_parts'`).Scan(&hasProjections); err != nil {
		return s, err
	}
	if hasProjections > 0 {
		if err := conn.QueryRow(ctx, `SELECT toUInt64(sum(bytes_on_disk)) FROM system.projection_parts
			WHERE active AND database = {db:String} AND table = 'events'`).Scan(&s.ProjectionBytes); err != nil {
			return s, fmt.Errorf("read system.projection_parts: %w", err)
		}
		s.Bytes += s.ProjectionBytes
	}
	rows, err := conn.Query(ctx, `SELECT name, data_compressed_bytes, data_uncompressed_bytes FROM system.columns
		WHERE database = {db:String} AND table = 'events'`)
	if err != nil {
		return s, fmt.Errorf("read system.columns: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c ColumnSize
		if err := rows.Scan(&c.Name, &c.Compressed, &c.Uncompressed); err != nil {
			return s, err
		}
		s.Columns = append(s.Columns, c)
	}
	slices.SortFunc(s.Columns, func(a, b ColumnSize) int { return int(b.Compressed) - int(a.Compressed) })
	return s, rows.Err()
}

// withParams binds server-side query parameters ({name:Type} in the query text).
func withParams(ctx context.Context, p clickhouse.Parameters) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithParameters(p))
}

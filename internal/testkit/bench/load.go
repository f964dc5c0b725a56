package bench

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
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

// Load inserts rows into database.events in batches of BatchSize, with the aggregator's settings
// and the client's (insertSettings). next returns the next row and false
// when there is none; it runs outside the timed part (a batch is generated, then inserted).
func Load(ctx context.Context, conn driver.Conn, database string, next func() (Row, bool, error)) (LoadStats, error) {
	var st LoadStats
	rows := make([]Row, 0, BatchSize)
	var buf columnar
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
		// The harness's own garbage collection stays out of the figure (Vector, the real client, has
		// none): the generator's garbage is collected before the clock starts, and collection pauses
		// while one batch (some tens of MB) is appended and sent.
		runtime.GC()
		gc := debug.SetGCPercent(-1)
		start := time.Now()
		send, err := insert(ctx, conn, database, rows, &buf)
		elapsed := time.Since(start)
		debug.SetGCPercent(gc)
		if err != nil {
			return st, err
		}
		st.Send += send
		st.Insert += elapsed
		st.Rows += len(rows)
	}
	return st, nil
}

// columnar holds one batch column by column, in the order of eventrow.Columns; its slices are reused
// from batch to batch.
type columnar struct {
	eventTime []time.Time
	latency   []uint64
	auditID   []uuid.UUID
	strings   [][]string // the string columns, in the order of eventrow.Columns
	code      []uint16
	rest      []string
}

func (c *columnar) fill(rows []Row) []any {
	c.eventTime, c.latency, c.auditID = c.eventTime[:0], c.latency[:0], c.auditID[:0]
	c.code, c.rest = c.code[:0], c.rest[:0]
	for i := range rows {
		r := &rows[i]
		c.eventTime, c.latency = append(c.eventTime, r.EventTime), append(c.latency, r.LatencyUS)
		c.auditID, c.code, c.rest = append(c.auditID, r.AuditID), append(c.code, r.ResponseCode), append(c.rest, r.Rest)
	}
	if c.strings == nil {
		c.strings = make([][]string, eventrow.StringColumns)
	}
	for j := range c.strings {
		v := c.strings[j][:0]
		for i := range rows {
			v = append(v, rows[i].StringColumn(j))
		}
		c.strings[j] = v
	}
	cols := make([]any, 0, len(eventrow.Columns))
	next := 0 // the next string column
	for _, col := range eventrow.Columns {
		switch col.Name {
		case "event_time":
			cols = append(cols, c.eventTime)
		case "latency_us":
			cols = append(cols, c.latency)
		case "audit_id":
			cols = append(cols, c.auditID)
		case "response_code":
			cols = append(cols, c.code)
		case "rest":
			cols = append(cols, c.rest)
		default:
			cols = append(cols, c.strings[next])
			next++
		}
	}
	return cols
}

// insertSQL is the INSERT of a batch: every column of eventrow.Columns.
func insertSQL(database string) string {
	return "INSERT INTO " + database + ".events (" + eventrow.ColumnNames() + ")"
}

// insertSettings are the settings of the harness's inserts: those the operator gives the aggregator's
// inserts (migrations.InsertSettings), and ClientSettings.
var insertSettings = func() clickhouse.Settings {
	out := clickhouse.Settings{}
	for k, v := range migrations.InsertSettings {
		out[k] = v
	}
	for k, v := range ClientSettings {
		out[k] = v
	}
	return out
}()

// ClientSettings are what the harness's inserts add to migrations.InsertSettings for its client,
// clickhouse-go, which the aggregator (Vector, JSONEachRow over HTTP) does not use.
// low_cardinality_allow_in_native_format = 0: the client sends the LowCardinality columns as plain
// Strings and the server builds their dictionaries, as it does from the aggregator's JSON. Otherwise
// clickhouse-go builds them itself, boxing and hashing every value in a map[any]: at 600,000 events
// that doubled the client's time, 2.0-2.6 s instead of 1.0-1.3 (docs/bench.md), which the real client
// does not spend.
var ClientSettings = map[string]string{"low_cardinality_allow_in_native_format": "0"}

// insert sends rows as one batch, column by column (clickhouse-go's columnar API: no reflection per row),
// with the aggregator's insert settings.
func insert(ctx context.Context, conn driver.Conn, database string, rows []Row, buf *columnar) (send time.Duration, err error) {
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(insertSettings))
	b, err := conn.PrepareBatch(ctx, insertSQL(database))
	if err != nil {
		return 0, fmt.Errorf("prepare batch: %w", err)
	}
	for i, col := range buf.fill(rows) {
		if err := b.Column(i).Append(col); err != nil {
			_ = b.Abort()
			return 0, fmt.Errorf("append column %s: %w", eventrow.Columns[i].Name, err)
		}
	}
	start := time.Now()
	if err := b.Send(); err != nil {
		return 0, fmt.Errorf("send batch of %d rows: %w", len(rows), err)
	}
	return time.Since(start), nil
}

// Optimize merges every partition of each table into one part, dropping duplicates by sorting key.
func Optimize(ctx context.Context, conn driver.Conn, database string) (time.Duration, error) {
	start := time.Now()
	for _, t := range migrations.Tables {
		if err := conn.Exec(ctx, "OPTIMIZE TABLE "+database+"."+t+" FINAL"); err != nil {
			return 0, fmt.Errorf("optimize %s: %w", t, err)
		}
	}
	return time.Since(start), nil
}

// Storage is what the events take on disk.
type Storage struct {
	// Rows are the events table's rows: one per event.
	Rows uint64
	// Bytes is bytes_on_disk of every table's active parts (migrations.Tables), which counts the
	// parts' projections (each part keeps its projections' parts in a directory of its own);
	// ProjectionBytes is the projections' share.
	Bytes           uint64
	ProjectionBytes uint64
	// Tables is each table's share, in the order of migrations.Tables: events first.
	Tables []TableSize
	// Columns is each column's compressed size in the events table, largest first.
	Columns []ColumnSize
}

// TableSize is one table's share.
type TableSize struct {
	Name  string
	Rows  uint64
	Bytes uint64
	Parts uint64
}

// ColumnSize is one column's share.
type ColumnSize struct {
	Name         string
	Compressed   uint64
	Uncompressed uint64
}

// BytesPerRow is the size on disk of every table divided by the events.
func (s Storage) BytesPerRow() float64 {
	if s.Rows == 0 {
		return 0
	}
	return float64(s.Bytes) / float64(s.Rows)
}

// MeasureStorage reads the tables' sizes from system.parts, system.projection_parts and system.columns.
func MeasureStorage(ctx context.Context, conn driver.Conn, database string) (Storage, error) {
	ctx = withParams(ctx, clickhouse.Parameters{"db": database})
	var s Storage
	for _, name := range migrations.Tables {
		t := TableSize{Name: name}
		tctx := withParams(ctx, clickhouse.Parameters{"db": database, "table": name})
		if err := conn.QueryRow(tctx, `SELECT toUInt64(sum(rows)), toUInt64(sum(bytes_on_disk)), count() FROM system.parts
			WHERE active AND database = {db:String} AND table = {table:String}`).Scan(&t.Rows, &t.Bytes, &t.Parts); err != nil {
			return s, fmt.Errorf("read system.parts of %s: %w", name, err)
		}
		s.Tables = append(s.Tables, t)
		s.Bytes += t.Bytes
	}
	s.Rows = s.Tables[0].Rows
	var hasProjections uint64
	if err := conn.QueryRow(ctx, `SELECT count() FROM system.tables WHERE database = 'system' AND name = 'projection_parts'`).Scan(&hasProjections); err != nil {
		return s, err
	}
	if hasProjections > 0 {
		if err := conn.QueryRow(ctx, `SELECT toUInt64(sum(bytes_on_disk)) FROM system.projection_parts
			WHERE active AND database = {db:String} AND table = 'events'`).Scan(&s.ProjectionBytes); err != nil {
			return s, fmt.Errorf("read system.projection_parts: %w", err)
		}
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

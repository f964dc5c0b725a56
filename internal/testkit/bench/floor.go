package bench

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// FloorDatabase is the name of the database BuildFloor fills for the run's database.
func FloorDatabase(database string) string { return database + "_floor" }

// BuildFloor creates floor, migrated as database is, and copies into it only the events the queries
// return from database (their answers, with the parameters p). Asked of floor, each query gives the
// same answer (Measure checks it) from tables that hold next to nothing else. What it costs there is
// the cost of its shape on this server with these columns (parsing, planning, opening each column it
// returns, decoding and sending the answer), which no sort key, granule size or index takes away. The
// difference from its time in database is what finding the answer among all the events costs: the
// share that the keys, granules and indexes can win.
//
// Every row of an answer that another query's rows could displace would have been in the real answer
// too (each query keeps the first rows by its order among those its filter accepts), so the answers
// are the same; Q4 counts the copied rows of its day instead of all of them.
func BuildFloor(ctx context.Context, db *sql.DB, conn driver.Conn, database, floor string, p Params) error {
	if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+floor+" SYNC"); err != nil {
		return err
	}
	if err := Migrate(ctx, db, floor); err != nil {
		return fmt.Errorf("migrate %s: %w", floor, err)
	}
	var ids []string
	for _, q := range Queries {
		answer, _, err := q.Answer(ctx, conn, database, p, "", nil)
		if err != nil {
			return err
		}
		for _, id := range answer {
			ids = append(ids, "'"+id.String()+"'")
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	// Inserted as the aggregator's inserts are, so that changes_mv copies the writes into floor's
	// changes table; * is every stored column (not the ALIAS), in the same order in both databases.
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(insertSettings), clickhouse.WithParameters(clickhouse.Parameters{
		"floor": floor, "db": database, "ids": "[" + strings.Join(ids, ",") + "]",
	}))
	if err := conn.Exec(ctx, `INSERT INTO {floor:Identifier}.events
		SELECT * FROM {db:Identifier}.events WHERE audit_id IN {ids:Array(UUID)}`); err != nil {
		return fmt.Errorf("copy the %d events the queries return into %s: %w", len(ids), floor, err)
	}
	_, err := Optimize(ctx, conn, floor)
	return err
}

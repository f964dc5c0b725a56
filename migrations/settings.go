package migrations

// InsertSettings are the settings inserts into the events table should run with; the operator puts
// them in the profile of the ClickHouse it manages, and the bench inserts with them.
//
// optimize_on_insert = 0: a ReplacingMergeTree collapses duplicates inside each inserted block by
// default, which copies the whole block once more (10,000 events and their changes_mv copies); the
// copies a redelivery makes are collapsed by merges anyway, like those of two different inserts.
// Measured: a quarter to a third more rows per second (docs/schema.md).
var InsertSettings = map[string]string{"optimize_on_insert": "0"}

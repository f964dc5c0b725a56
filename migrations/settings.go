package migrations

// InsertSettings are the settings inserts into the events table should run with; the operator puts
// them in the profile of the ClickHouse it manages, and the bench inserts with them.
//
// optimize_on_insert = 0: a ReplacingMergeTree collapses duplicates inside each inserted block by
// default, which copies the whole block once more (10,000 events and their changes_mv copies); the
// copies a redelivery makes are collapsed by merges anyway, like those of two different inserts.
// Measured: a quarter to a third more rows per second (docs/schema.md).
//
// deduplicate_blocks_in_dependent_materialized_views = 1: a replicated table skips a block it has
// stored already (an insert retried after a lost answer), and by default the materialized views of a
// skipped block are skipped too; if the first attempt stored the block in events but failed before
// changes_mv's copy, the retry would then never copy it. With the setting, changes dedupes its own
// blocks instead, so a retry fills in what is missing there and nothing twice.
//
// min_chunk_bytes_for_parallel_parsing = 1048576: the server parses the aggregator's JSON in chunks of
// at least 1 MiB on its threads; with the default 10 MiB a batch (10,000 events, about 12 MB of JSON)
// is a chunk of 10 MiB and a small rest, parsed mostly on one thread. The chunks are cut at line ends and their rows come out in order, into the same
// blocks and parts: only the parsing is spread. Measured: about a tenth more rows per second
// (docs/bench.md).
var InsertSettings = map[string]string{
	"optimize_on_insert": "0",
	"deduplicate_blocks_in_dependent_materialized_views": "1",
	"min_chunk_bytes_for_parallel_parsing":               "1048576",
}

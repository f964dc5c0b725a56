package migrate

import (
	"fmt"
	"strconv"
	"strings"
	"text/template"
)

// Tables the engine keeps next to the audit tables, in the pipeline's database.
const (
	// VersionTable is goose's version table: the authority on which versions are applied.
	VersionTable = "goose_db_version"
	// ChecksumTable holds one record per applied version: file name, checksum, time and duration.
	ChecksumTable = "schema_migrations_checksums"
	// LockTable holds the schema lock: one row per acquisition, the highest epoch is the current one.
	LockTable = "schema_migrations_lock"
)

// createVersionTable is goose's ClickHouse version table (the columns of goose's clickhouse dialect),
// created by us so that it replicates on a cluster: goose would create a plain MergeTree, whose rows
// stay on the node that wrote them.
var createVersionTable = template.Must(template.New(VersionTable).Parse(`CREATE TABLE IF NOT EXISTS {{.Database}}.` + VersionTable + `{{.OnCluster}}
(
    version_id Int64,
    is_applied UInt8,
    date Date DEFAULT now(),
    tstamp DateTime DEFAULT now()
)
ENGINE = {{.Engine "MergeTree"}}
ORDER BY version_id`))

// createChecksumTable records what was applied. A record is written before goose's version row, so
// a migrator that dies between the two re-applies the version and writes a newer record.
var createChecksumTable = template.Must(template.New(ChecksumTable).Parse(`CREATE TABLE IF NOT EXISTS {{.Database}}.` + ChecksumTable + `{{.OnCluster}}
(
    version Int64,
    name String,
    checksum String,
    applied_at DateTime64(3, 'UTC'),
    duration_ms UInt64,
    applied_by String
)
ENGINE = {{.Engine "ReplacingMergeTree(applied_at)"}}
ORDER BY version`))

// lockColumns are the columns of both lock tables.
const lockColumns = `(
    epoch UInt64,
    owner String,
    token String,
    claimed_at DateTime64(6, 'UTC'),
    expires_at DateTime64(3, 'UTC'),
    written_at DateTime64(6, 'UTC')
)`

// createKeeperLockTable is the lock on Keeper: a KeeperMap whose key is the epoch, so that an INSERT
// with keeper_map_strict_mode=1 of an existing epoch fails. Every replica that creates it with the
// same path shares its rows.
var createKeeperLockTable = template.Must(template.New(LockTable).Parse(`CREATE TABLE IF NOT EXISTS {{.Database}}.` + LockTable + `{{.OnCluster}}
` + lockColumns + `
ENGINE = KeeperMap('/auditpipeline/{{.Database}}/` + LockTable + `')
PRIMARY KEY epoch`))

// createLocalLockTable is the lock without Keeper (a single node): rows in a MergeTree that deduplicates
// inserts, so that of the claims of an epoch (one deduplication token) only the first is kept.
var createLocalLockTable = template.Must(template.New(LockTable).Parse(`CREATE TABLE IF NOT EXISTS {{.Database}}.` + LockTable + `
` + lockColumns + `
ENGINE = ReplacingMergeTree(written_at)
ORDER BY (epoch, token)
SETTINGS non_replicated_deduplication_window = ` + strconv.Itoa(dedupWindow)))

// createDatabase renders CREATE DATABASE for the options: ON CLUSTER when a cluster is named, and the
// Replicated engine (one replica per {shard}/{replica} macro pair) for a replicated database.
func createDatabase(o Options) string {
	var b strings.Builder
	b.WriteString("CREATE DATABASE IF NOT EXISTS " + o.Database + onCluster(o.Cluster))
	if o.Replicated {
		fmt.Fprintf(&b, "\nENGINE = Replicated(%s, '{shard}', '{replica}')", quoteString("/clickhouse/databases/"+o.Database))
	}
	return b.String()
}

// syncReplica renders the statement that makes this replica fetch what other replicas wrote to table,
// before it is read.
func syncReplica(database, table string) string {
	return "SYSTEM SYNC REPLICA " + database + "." + table + " LIGHTWEIGHT"
}

// ddl renders one of the engine's own statements.
func ddl(t *template.Template, data TemplateData) string {
	s, err := render(t, data)
	if err != nil {
		panic(fmt.Sprintf("render %s: %v", t.Name(), err)) // the templates are constants, tested
	}
	return s
}

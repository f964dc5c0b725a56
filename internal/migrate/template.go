package migrate

import (
	"fmt"
	"regexp"
	"strings"
	"text/template"
)

// TemplateData is what a migration file's template sees: the file is a text/template, rendered once
// per ClickHouse topology, so one file serves a single node and a replicated cluster, with or without
// the hot_cold storage policy. The raw file (not the rendered text) is what the checksum covers.
//
//	CREATE TABLE IF NOT EXISTS {{.Database}}.events{{.OnCluster}} (...)
//	ENGINE = {{.Engine "ReplacingMergeTree"}}
//	ORDER BY (...)
//	{{.Settings}};
type TemplateData struct {
	// Database is the pipeline's database, e.g. audit. Tables are always named database.table.
	Database string
	// OnCluster is "" or " ON CLUSTER `name`" (with its leading space) for DDL that every replica must
	// run: set when Options.Cluster is set and the database is not a Replicated one (a Replicated
	// database replicates DDL by itself and refuses ON CLUSTER).
	OnCluster string
	// Replicated is true when tables must use Replicated* engines: with Options.Cluster or
	// Options.Replicated.
	Replicated bool
	// StoragePolicy is the storage policy tables are created with, or "" for the server's default.
	StoragePolicy string
}

// mergeTreeEngine is an engine the Engine function accepts: the MergeTree family, with arguments.
var mergeTreeEngine = regexp.MustCompile(`^(Replacing|Summing|Aggregating|Collapsing|VersionedCollapsing|Graphite|Coalescing)?MergeTree(\(.*\))?$`)

// Engine returns the table engine for a MergeTree-family engine, e.g. "ReplacingMergeTree(version)":
// unchanged on a single node, and its Replicated variant ("ReplicatedReplacingMergeTree(version)")
// when Replicated is true. The Replicated variant takes the server's default_replica_path and
// default_replica_name ('/clickhouse/tables/{uuid}/{shard}' and '{replica}' unless configured), which
// ClickHouse fills in consistently under ON CLUSTER and in a Replicated database.
func (d TemplateData) Engine(engine string) (string, error) {
	engine = strings.TrimSpace(engine)
	m := mergeTreeEngine.FindStringSubmatch(engine)
	if m == nil {
		return "", fmt.Errorf("engine %q is not of the MergeTree family (MergeTree, ReplacingMergeTree(...), ...)", engine)
	}
	if !d.Replicated {
		return engine, nil
	}
	if m[2] == "()" {
		engine = strings.TrimSuffix(engine, "()")
	}
	return "Replicated" + engine, nil
}

// Settings returns a SETTINGS clause with the given settings ("index_granularity = 8192") and, when
// StoragePolicy is set, storage_policy; "" when there is neither.
func (d TemplateData) Settings(settings ...string) string {
	if d.StoragePolicy != "" {
		settings = append(settings, "storage_policy = "+quoteString(d.StoragePolicy))
	}
	if len(settings) == 0 {
		return ""
	}
	return "SETTINGS " + strings.Join(settings, ", ")
}

// Examples the loader renders every file with, to find template errors before any server is involved.
var (
	exampleSingle     = TemplateData{Database: "audit"}
	exampleReplicated = TemplateData{Database: "audit", OnCluster: onCluster("audit"), Replicated: true, StoragePolicy: "hot_cold"}
)

// render executes a migration's template.
func render(t *template.Template, data TemplateData) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("render template: %w", err)
	}
	return b.String(), nil
}

// onCluster renders the ON CLUSTER clause for cluster, with its leading space.
func onCluster(cluster string) string {
	if cluster == "" {
		return ""
	}
	return " ON CLUSTER " + quoteIdent(cluster)
}

// quoteIdent quotes a ClickHouse identifier with backticks.
func quoteIdent(s string) string {
	return "`" + strings.NewReplacer(`\`, `\\`, "`", "\\`").Replace(s) + "`"
}

// quoteString quotes a ClickHouse string literal.
func quoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

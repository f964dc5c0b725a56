package migrate

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"time"
)

const (
	// DefaultLockTTL is Options.LockTTL when unset.
	DefaultLockTTL = time.Minute
	// DefaultReplicaTimeout is Options.ReplicaTimeout when unset.
	DefaultReplicaTimeout = 2 * time.Minute
	// LatestTarget as Up's target applies every embedded migration.
	LatestTarget = "latest"
)

// Options say where and how to migrate.
type Options struct {
	// Database is the pipeline's database (required). Up creates it if it does not exist.
	Database string
	// Cluster, when set, is the cluster (remote_servers) whose every node must get the schema: the
	// database is created ON CLUSTER, tables get Replicated* engines, and, unless Replicated is set,
	// every DDL statement runs ON CLUSTER.
	Cluster string
	// Replicated makes the database a Replicated one (ENGINE = Replicated(...)), which replicates DDL by
	// itself; tables get Replicated* engines and no ON CLUSTER clause.
	Replicated bool
	// StoragePolicy is the storage policy tables are created with ("hot_cold" when the server has the
	// operator's storage configuration), or "" for the server's default policy.
	StoragePolicy string
	// Owner names this migrator in the lock, e.g. "pod/namespace/name"; other migrators see it in
	// LockedError. Defaults to the host name.
	Owner string
	// LockTTL is how long the lock lasts without renewal (default DefaultLockTTL). The holder renews it
	// every LockTTL/3; a migrator that dies holding it blocks others for at most LockTTL.
	LockTTL time.Duration
	// ReplicaTimeout bounds each wait for other replicas, with a cluster or a Replicated database:
	// distributed DDL and SYSTEM SYNC REPLICA (default DefaultReplicaTimeout). A replica that does
	// not answer in time fails the migration instead of blocking it.
	ReplicaTimeout time.Duration
	// OnApplied, when set, is called after each version is applied and recorded, with the lock held:
	// the controller emits an Event per version from it.
	OnApplied func(Applied)
	// Logger, when set, receives goose's log of each migration and statement.
	Logger *slog.Logger
	// Superseded maps the checksums of earlier versions of the migration files (migrations.Superseded)
	// to what changed since: a database that applied one gets a ChecksumError of kind KindSuperseded,
	// which says so, rather than KindChanged.
	Superseded map[string]string
}

// Migrator applies embedded migrations to one database. Its methods may be called many times; it
// holds no connection of its own beyond the *sql.DB it was given.
type Migrator struct {
	db         *sql.DB
	migrations []Migration
	statements map[int64][]string // rendered, by version
	opts       Options
	data       TemplateData
}

// identifier is what Database may be (spec.clickhouse.database has the same rule).
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// New renders ms (from Load) for the topology in opts and returns a Migrator over db, a pool from
// clickhouse.OpenDB. It does not connect.
func New(db *sql.DB, ms []Migration, opts Options) (*Migrator, error) {
	if db == nil {
		return nil, errors.New("new migrator: no database handle")
	}
	if len(ms) == 0 {
		return nil, errors.New("new migrator: no migrations")
	}
	if !identifier.MatchString(opts.Database) {
		return nil, fmt.Errorf("new migrator: database %q is not a plain identifier (letters, digits, '_')", opts.Database)
	}
	if opts.Owner == "" {
		opts.Owner, _ = os.Hostname()
	}
	opts.LockTTL = cmp.Or(opts.LockTTL, DefaultLockTTL)
	opts.ReplicaTimeout = cmp.Or(opts.ReplicaTimeout, DefaultReplicaTimeout)
	m := &Migrator{db: db, migrations: ms, opts: opts, statements: map[int64][]string{}, data: TemplateData{
		Database:      opts.Database,
		Replicated:    opts.Cluster != "" || opts.Replicated,
		StoragePolicy: opts.StoragePolicy,
	}}
	if !opts.Replicated {
		m.data.OnCluster = onCluster(opts.Cluster)
	}
	for _, mig := range ms {
		stmts, err := mig.statements(m.data)
		if err != nil {
			return nil, fmt.Errorf("new migrator: %w", err)
		}
		m.statements[mig.Version] = stmts
	}
	return m, nil
}

// Report is the schema's state: what the controller writes into status.schema.
type Report struct {
	// Current is the highest applied version, 0 when none is.
	Current int64
	// Target is the version migrated to: the target resolved against the embedded migrations.
	Target int64
	// Applied are the applied versions, oldest first, with their records.
	Applied []Applied
	// Pending are the embedded versions up to Target not applied yet, oldest first.
	Pending []Pending
}

// Applied is one applied version.
type Applied struct {
	// Version is the migration's number.
	Version int64
	// Name is the file it was applied from, Checksum its "sha256:<hex>" then.
	Name     string
	Checksum string
	// AppliedAt is when it finished, Duration how long its statements took.
	AppliedAt time.Time
	Duration  time.Duration
}

// Pending is a version not applied yet.
type Pending struct {
	// Version is the migration's number, Name its file.
	Version int64
	Name    string
}

// Status reads the applied versions and verifies them against the embedded files, without changing
// anything (no lock, no table created). target is "latest" ("" too) or a version number. The report
// is returned with a *ChecksumError too; it is nil only when the state could not be read.
func (m *Migrator) Status(ctx context.Context, target string) (*Report, error) {
	tgt, err := m.resolveTarget(target)
	if err != nil {
		return nil, err
	}
	st, err := m.readState(ctx)
	if err != nil {
		return nil, err
	}
	return m.report(st, tgt), m.verify(st)
}

// resolveTarget turns "latest", "" or a number into a version.
func (m *Migrator) resolveTarget(target string) (int64, error) {
	last := m.migrations[len(m.migrations)-1]
	if target == "" || target == LatestTarget {
		return last.Version, nil
	}
	v, err := strconv.ParseInt(target, 10, 64)
	if err != nil || v < 1 {
		return 0, fmt.Errorf("%w %q: want %q or a version number", ErrInvalidTarget, target, LatestTarget)
	}
	if v > last.Version {
		return 0, fmt.Errorf("%w %d: the last migration this operator ships is %s (version %d)", ErrInvalidTarget, v, last.Name, last.Version)
	}
	return v, nil
}

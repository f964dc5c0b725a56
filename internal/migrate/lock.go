package migrate

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// schemaLock is the lock that lets one migrator at a time change a database's schema. It lives in
// ClickHouse, in LockTable, as a sequence of epochs: each acquisition claims the epoch after the
// highest one, and may do so only when the holder of the highest epoch has released it or let its
// lease expire (expiry is judged by the server's clock). Claiming an epoch is the critical step:
//
//   - With Keeper (a KeeperMap table), the claim is an INSERT with keeper_map_strict_mode=1 of the new
//     epoch as key: Keeper creates the key at most once, so exactly one of two racing migrators wins, on
//     one node or across replicas.
//   - Without Keeper (a single node, ReplacingMergeTree with a deduplication window), the claim is an
//     INSERT whose insert_deduplication_token names the epoch: the server keeps the first block with
//     that token and drops the others, under the table's lock, so when the INSERT returns the epoch's
//     one claim is visible and is read back without waiting. It is not meant for replicas (a
//     replicated setup must have Keeper, and uses it).
//
// The holder renews its lease every TTL/3 and stops (cancels its context) when it finds the lock taken
// over, or when it could not renew for 2/3 of the TTL, before its lease can expire on the server.
type schemaLock struct {
	db     *sql.DB
	table  string // database.table
	keeper bool
	owner  string
	ttl    time.Duration
	// dedupSettings turn insert deduplication on for the claim, whatever the user's profile says: each
	// setting this server knows, as "name = value, ".
	dedupSettings string
}

// dedupWindow is the number of recent inserts a non-Keeper lock table remembers for deduplication:
// racing claims of an epoch arrive within moments, renewals add one insert every TTL/3.
const dedupWindow = 1000

// claim is one row of the lock table, as read back.
type claim struct {
	epoch     uint64
	owner     string
	token     string
	expiresAt time.Time
	expired   bool
}

// openLock creates the lock table if needed (KeeperMap when the server has Keeper for it, else
// ReplacingMergeTree) and returns the lock that matches the table's engine.
func (m *Migrator) openLock(ctx context.Context) (*schemaLock, error) {
	l := &schemaLock{db: m.db, table: m.qualified(LockTable), owner: m.opts.Owner, ttl: m.opts.LockTTL}
	engine, err := m.tableEngine(ctx, LockTable)
	if err != nil {
		return nil, err
	}
	if engine == "" {
		if err := m.createLockTable(ctx); err != nil {
			return nil, err
		}
		if engine, err = m.tableEngine(ctx, LockTable); err != nil {
			return nil, err
		}
	}
	l.keeper = engine == "KeeperMap"
	if m.data.Replicated && !l.keeper {
		return nil, fmt.Errorf("schema lock: %s has engine %s, but a cluster needs the KeeperMap lock: drop the table so it is created again", l.table, engine)
	}
	if !l.keeper {
		if err := m.ensureDedupWindow(ctx); err != nil {
			return nil, err
		}
		if l.dedupSettings, err = m.dedupSettings(ctx); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// createLockTable creates the KeeperMap lock table or, when the server has no Keeper for KeeperMap
// and is a single node, the ReplacingMergeTree one.
func (m *Migrator) createLockTable(ctx context.Context) error {
	err := m.exec(ctx, ddl(createKeeperLockTable, m.data))
	if err == nil || !keeperUnavailable(err) {
		return err
	}
	if m.data.Replicated {
		return fmt.Errorf("schema lock: a cluster needs Keeper and keeper_map_path_prefix for the KeeperMap lock table: %w", err)
	}
	return m.exec(ctx, ddl(createLocalLockTable, m.data))
}

// ensureDedupWindow gives a lock table created before claims were deduplicated its window.
func (m *Migrator) ensureDedupWindow(ctx context.Context) error {
	var n uint64
	if err := m.db.QueryRowContext(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = ? AND position(engine_full, 'non_replicated_deduplication_window') > 0",
		m.opts.Database, LockTable).Scan(&n); err != nil {
		return fmt.Errorf("read the settings of %s: %w", m.qualified(LockTable), err)
	}
	if n > 0 {
		return nil
	}
	if err := m.exec(ctx, fmt.Sprintf("ALTER TABLE %s MODIFY SETTING non_replicated_deduplication_window = %d", m.qualified(LockTable), dedupWindow)); err != nil {
		return fmt.Errorf("set the deduplication window of %s: %w", m.qualified(LockTable), err)
	}
	return nil
}

// dedupOn are the settings that turn insert deduplication on, across ClickHouse versions.
var dedupOn = []struct{ name, value string }{
	{"insert_deduplicate", "1"},
	{"deduplicate_insert", "'enable'"},
	{"deduplicate_insert_select", "'enable_when_possible'"},
}

// dedupSettings returns the settings of dedupOn this server knows, as a SETTINGS clause's start.
func (m *Migrator) dedupSettings(ctx context.Context) (string, error) {
	names := make([]string, len(dedupOn))
	for i, s := range dedupOn {
		names[i] = s.name
	}
	rows, err := m.db.QueryContext(ctx, "SELECT name FROM system.settings WHERE has(?, name)", names)
	if err != nil {
		return "", fmt.Errorf("read the server's settings: %w", err)
	}
	defer func() { _ = rows.Close() }()
	known := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return "", err
		}
		known[n] = true
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("read the server's settings: %w", err)
	}
	var b strings.Builder
	for _, s := range dedupOn {
		if known[s.name] {
			b.WriteString(s.name + " = " + s.value + ", ")
		}
	}
	return b.String(), nil
}

// keeperUnavailable says whether err is ClickHouse refusing a KeeperMap table for want of Keeper.
func keeperUnavailable(err error) bool {
	var ex *ch.Exception
	if !errors.As(err, &ex) {
		return false
	}
	const badArguments, noZooKeeper = 36, 225
	return ex.Code == noZooKeeper || ex.Code == badArguments && strings.Contains(ex.Message, "keeper_map_path_prefix")
}

// tableEngine returns the engine of one of the database's tables, "" when it does not exist.
func (m *Migrator) tableEngine(ctx context.Context, table string) (string, error) {
	var engine string
	err := m.db.QueryRowContext(ctx, "SELECT engine FROM system.tables WHERE database = ? AND name = ?", m.opts.Database, table).Scan(&engine)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the engine of %s: %w", m.qualified(table), err)
	}
	return engine, nil
}

// current returns the claim that holds the highest epoch, nil when the table is empty.
func (l *schemaLock) current(ctx context.Context) (*claim, error) {
	final := " FINAL"
	if l.keeper {
		final = "" // a KeeperMap row is a single key, and the table does not take FINAL
	}
	var c claim
	var expired uint8
	err := l.db.QueryRowContext(ctx, "SELECT epoch, owner, token, expires_at, expires_at <= now64(3) FROM "+l.table+final+
		" ORDER BY epoch DESC, claimed_at, token LIMIT 1").Scan(&c.epoch, &c.owner, &c.token, &c.expiresAt, &expired)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the schema lock: %w", err)
	}
	c.expired = expired == 1
	return &c, nil
}

// acquire takes the lock or returns a *LockedError naming the holder. It does not wait.
func (l *schemaLock) acquire(ctx context.Context) (*lease, error) {
	cur, err := l.current(ctx)
	if err != nil {
		return nil, err
	}
	if cur != nil && !cur.expired {
		return nil, &LockedError{Owner: cur.owner, Until: cur.expiresAt}
	}
	next := uint64(1)
	if cur != nil {
		next = cur.epoch + 1
	}
	token := newToken()
	err = l.claim(ctx, next, token)
	for range 3 {
		if !errors.Is(err, errClaimDropped) {
			break
		}
		next++ // that epoch's claim was deduplicated against a row no longer there (deleted by hand)
		err = l.claim(ctx, next, token)
	}
	if err != nil {
		return nil, err
	}
	return l.hold(ctx, next, token), nil
}

// errClaimDropped: the server took the claim's INSERT but kept no claim of the epoch.
var errClaimDropped = errors.New("claim dropped")

// claim claims epoch for token, returning a *LockedError when another migrator claimed it first.
func (l *schemaLock) claim(ctx context.Context, epoch uint64, token string) error {
	// The token is built from the epoch number and the table's name only, so it needs no quoting.
	settings := fmt.Sprintf(" SETTINGS %sinsert_deduplication_token = '%s-epoch-%d'", l.dedupSettings, l.table, epoch)
	if l.keeper {
		settings = " SETTINGS keeper_map_strict_mode = 1"
	}
	_, insertErr := l.db.ExecContext(ctx, "INSERT INTO "+l.table+" (epoch, owner, token, claimed_at, expires_at, written_at)"+settings+
		" SELECT ?, ?, ?, now64(6), now64(3) + toIntervalMillisecond(?), now64(6)", epoch, l.owner, token, l.ttl.Milliseconds())
	if insertErr == nil && l.keeper {
		return nil // Keeper created the key: nobody else can have
	}
	cur, err := l.current(ctx)
	switch {
	case err != nil:
		return errors.Join(insertErr, err)
	case cur != nil && cur.epoch >= epoch && cur.token != token:
		return &LockedError{Owner: cur.owner, Until: cur.expiresAt}
	case insertErr != nil:
		return fmt.Errorf("claim the schema lock: %w", insertErr)
	case cur == nil || cur.epoch < epoch:
		return fmt.Errorf("claim the schema lock: the claim of epoch %d is not visible: %w", epoch, errClaimDropped)
	case cur.epoch != epoch:
		return fmt.Errorf("claim the schema lock: epoch %d is already behind epoch %d", epoch, cur.epoch)
	}
	// Deduplication kept one claim of the epoch; should a setting have defeated it, give up rather than
	// hold a lock another migrator may hold too.
	var claims uint64
	if err := l.db.QueryRowContext(ctx, "SELECT uniqExact(token) FROM "+l.table+" WHERE epoch = ?", epoch).Scan(&claims); err != nil {
		return fmt.Errorf("read the claims of epoch %d: %w", epoch, err)
	}
	if claims != 1 {
		return fmt.Errorf("claim the schema lock: %d claims of epoch %d were kept: the server did not deduplicate them (insert deduplication settings of this user)", claims, epoch)
	}
	return nil
}

// write sets the expiry of this migrator's claim of epoch to the server's now plus after: a renewal,
// or, with 0, a release. Only the claim's own holder writes it, so a plain insert (an upsert in the
// KeeperMap) is safe; claimed_at is copied so that the order of claims does not change.
func (l *schemaLock) write(ctx context.Context, epoch uint64, token string, after time.Duration) error {
	final := " FINAL"
	if l.keeper {
		final = ""
	}
	_, err := l.db.ExecContext(ctx, "INSERT INTO "+l.table+" (epoch, owner, token, claimed_at, expires_at, written_at)"+
		" SELECT epoch, owner, token, claimed_at, now64(3) + toIntervalMillisecond(?), now64(6) FROM "+l.table+final+
		" WHERE epoch = ? AND token = ?", after.Milliseconds(), epoch, token)
	if err != nil {
		return fmt.Errorf("write the schema lock: %w", err)
	}
	return nil
}

// newToken returns a random token that tells this acquisition from any other, even of the same owner.
func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

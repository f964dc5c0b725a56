package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
	"github.com/auditpipeline/auditpipeline-operator/migrations"
)

// abandon stops a lease's heartbeat without releasing it, as a migrator that crashed would.
func (ls *lease) abandon(t *testing.T) {
	close(ls.stop)
	<-ls.done
	t.Cleanup(func() { ls.cancel(nil) })
}

func TestSecondMigratorGetsLockedError(t *testing.T) {
	srv := chtest.Shared(t)
	db := openDB(t, srv)
	name := newDatabaseName(t, srv)
	ctx := context.Background()
	fsys := embedded(t, map[string]string{"00002_a.sql": table("a")})
	b := newMigrator(t, db, fsys, Options{Database: name, Owner: "b"})
	var bErr error
	a := newMigrator(t, db, fsys, Options{Database: name, Owner: "a", OnApplied: func(applied Applied) {
		if applied.Version == 1 {
			_, bErr = b.Up(ctx, "latest") // while a holds the lock, with version 2 pending
		}
	}})
	if _, err := a.Up(ctx, "latest"); err != nil {
		t.Fatal(err)
	}
	var locked *LockedError
	if !errors.As(bErr, &locked) || locked.Owner != "a" || locked.Lost || !locked.Until.After(time.Now()) {
		t.Fatalf("b's Up while a migrates = %v, want a LockedError naming a with a future expiry", bErr)
	}
	if engine, _ := a.tableEngine(ctx, LockTable); engine != "KeeperMap" {
		t.Errorf("lock table engine = %q, want KeeperMap on a server with Keeper", engine)
	}
	if rep, err := b.Up(ctx, "latest"); err != nil || len(rep.Pending) != 0 {
		t.Errorf("b's Up after a finished = %+v, %v; want nothing pending", rep, err)
	}
}

func TestRacingMigratorsKeeper(t *testing.T) {
	srv := chtest.Shared(t)
	racingMigrators(t, srv, openDB(t, srv))
}

// TestWithoutKeeper runs the lock tests on a server without Keeper, where the lock falls back to a
// ReplacingMergeTree table.
func TestWithoutKeeper(t *testing.T) {
	srv := chtest.New(t, chtest.Options{})
	t.Run("racing migrators", func(t *testing.T) {
		db := openDB(t, srv)
		name := racingMigrators(t, srv, db)
		var engine string
		if err := db.QueryRow("SELECT engine FROM system.tables WHERE database = ? AND name = ?", name, LockTable).Scan(&engine); err != nil || engine != "ReplacingMergeTree" {
			t.Errorf("lock table engine = %q, %v; want ReplacingMergeTree on a server without Keeper", engine, err)
		}
	})
	t.Run("expired lock is taken over", func(t *testing.T) { expiredLockIsTakenOver(t, srv, false) })
	t.Run("claims deduplicated against deleted rows move on", func(t *testing.T) {
		db := openDB(t, srv)
		name := newDatabaseName(t, srv)
		if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		m := newMigrator(t, db, migrations.FS, Options{Database: name, Owner: "first"})
		l, err := m.openLock(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ls, err := l.acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := ls.release(ctx); err != nil {
			t.Fatal(err)
		}
		// Someone empties the lock table by hand; the deduplication log still knows epoch 1.
		if _, err := db.Exec("ALTER TABLE " + name + "." + LockTable + " DELETE WHERE 1 SETTINGS mutations_sync = 1"); err != nil {
			t.Fatal(err)
		}
		ls, err = l.acquire(ctx)
		if err != nil {
			t.Fatalf("acquire after the rows were deleted: %v", err)
		}
		if err := ls.release(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("one claim of an epoch wins, without waiting", func(t *testing.T) {
		db := openDB(t, srv)
		name := newDatabaseName(t, srv)
		if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for epoch := uint64(1); epoch <= 5; epoch++ {
			const n = 8
			errs := make([]error, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				m := newMigrator(t, db, migrations.FS, Options{Database: name, Owner: fmt.Sprintf("m%d", i)})
				l, err := m.openLock(ctx)
				if err != nil {
					t.Fatal(err)
				}
				wg.Go(func() {
					<-start
					errs[i] = l.claim(ctx, epoch, newToken())
				})
			}
			close(start)
			wg.Wait()
			won := 0
			for _, err := range errs {
				var locked *LockedError
				switch {
				case err == nil:
					won++
				case !errors.As(err, &locked):
					t.Errorf("epoch %d: claim = %v, want nil or a LockedError", epoch, err)
				}
			}
			if won != 1 {
				t.Fatalf("epoch %d: %d of %d racing claims won, want exactly 1: %v", epoch, won, n, errs)
			}
		}
	})
	t.Run("a cluster needs Keeper", func(t *testing.T) {
		db := openDB(t, srv)
		name := newDatabaseName(t, srv)
		if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
			t.Fatal(err)
		}
		m := newMigrator(t, db, migrations.FS, Options{Database: name, Replicated: true})
		if err := m.createLockTable(context.Background()); err == nil || !strings.Contains(err.Error(), "a cluster needs Keeper") {
			t.Errorf("createLockTable for a replicated database without Keeper = %v, want an error saying it needs Keeper", err)
		}
	})
}

// racingMigrators starts two migrators at once on a fresh database with a slow migration: exactly one
// applies everything, the other gets a LockedError. It returns the database's name.
func racingMigrators(t *testing.T, srv *chtest.Server, db *sql.DB) string {
	t.Helper()
	name := newDatabaseName(t, srv)
	fsys := embedded(t, map[string]string{"00002_slow.sql": "-- +goose Up\nSELECT sleep(1.5);\n"})
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, 2)
	for i, owner := range []string{"first", "second"} {
		m := newMigrator(t, db, fsys, Options{Database: name, Owner: owner})
		wg.Go(func() {
			<-start
			_, errs[i] = m.Up(context.Background(), "latest")
		})
	}
	close(start)
	wg.Wait()
	var locked *LockedError
	if (errs[0] == nil) == (errs[1] == nil) || !errors.As(errors.Join(errs...), &locked) {
		t.Fatalf("errors = %v; want exactly one nil and one LockedError", errs)
	}
	winner := "first"
	if errs[0] != nil {
		winner = "second"
	}
	if locked.Owner != winner {
		t.Errorf("LockedError names %q, want the winner %q", locked.Owner, winner)
	}
	goose := queryStrings(t, db, "SELECT toString(version_id) FROM "+name+"."+VersionTable+" ORDER BY version_id")
	records := queryStrings(t, db, "SELECT applied_by FROM "+name+"."+ChecksumTable)
	if !slices.Equal(goose, []string{"0", "1", "2"}) || !slices.Equal(records, []string{winner, winner}) {
		t.Errorf("goose versions %v, checksum records by %v; want each version once, by %s", goose, records, winner)
	}
	return name
}

func TestExpiredLockIsTakenOver(t *testing.T) { expiredLockIsTakenOver(t, chtest.Shared(t), true) }

// expiredLockIsTakenOver leaves a lock behind as a crashed migrator would, and checks that another
// migrator gets a LockedError until the lease expires, and then takes the lock over.
func expiredLockIsTakenOver(t *testing.T, srv *chtest.Server, keeper bool) {
	db := openDB(t, srv)
	name := newDatabaseName(t, srv)
	ctx := context.Background()
	crashed := newMigrator(t, db, migrations.FS, Options{Database: name, Owner: "crashed", LockTTL: 900 * time.Millisecond})
	if err := crashed.exec(ctx, createDatabase(crashed.opts)); err != nil {
		t.Fatal(err)
	}
	lock, err := crashed.openLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if lock.keeper != keeper {
		t.Fatalf("lock on Keeper = %v, want %v", lock.keeper, keeper)
	}
	held, err := lock.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	held.abandon(t)

	m := newMigrator(t, db, migrations.FS, Options{Database: name, Owner: "next"})
	var locked *LockedError
	if _, err := m.Up(ctx, "latest"); !errors.As(err, &locked) || locked.Owner != "crashed" {
		t.Fatalf("Up while the crashed migrator's lease runs = %v, want a LockedError naming it", err)
	}
	time.Sleep(time.Until(locked.Until) + 50*time.Millisecond)
	if rep, err := m.Up(ctx, "latest"); err != nil || len(rep.Pending) != 0 {
		t.Fatalf("Up after the lease expired = %+v, %v; want everything applied", rep, err)
	}
	if err := held.check(ctx); !errors.As(err, &locked) || !locked.Lost {
		t.Errorf("the crashed lease's check = %v, want a lost LockedError", err)
	}
}

func TestLeaseStopsWhenTakenOver(t *testing.T) {
	srv := chtest.Shared(t)
	db := openDB(t, srv)
	name := newDatabaseName(t, srv)
	ctx := context.Background()
	m := newMigrator(t, db, migrations.FS, Options{Database: name, Owner: "holder", LockTTL: 600 * time.Millisecond})
	if err := m.exec(ctx, createDatabase(m.opts)); err != nil {
		t.Fatal(err)
	}
	lock, err := m.openLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	held, err := lock.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = held.release(ctx) }()
	// The heartbeat keeps the lease beyond its TTL.
	time.Sleep(900 * time.Millisecond)
	if err := held.check(ctx); err != nil {
		t.Fatalf("check after 1.5 TTL with the heartbeat running: %v", err)
	}
	// Someone who ignores the lock claims the next epoch: the holder's context ends with the cause.
	_, err = db.Exec("INSERT INTO "+lock.table+" (epoch, owner, token, claimed_at, expires_at, written_at) "+
		"SELECT ?, 'intruder', 'x', now64(6), now64(3) + toIntervalHour(1), now64(6)", held.epoch+1)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-held.ctx.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("the lease's context is still alive 2 s after the lock was taken over")
	}
	var locked *LockedError
	if cause := context.Cause(held.ctx); !errors.As(cause, &locked) || !locked.Lost || locked.Owner != "intruder" {
		t.Errorf("cause = %v, want a lost LockedError naming the intruder", cause)
	}
}

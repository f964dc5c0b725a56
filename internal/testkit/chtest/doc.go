// Package chtest runs a real ClickHouse server on loopback for tests, without Docker and without a
// ClickHouse package: it runs libchdb.so (ClickHouse as a shared library, from the npm package that
// hack/clickhouse/install.sh fetches) in a child process, ./chserver, which serves the native protocol
// and HTTP until chtest closes its stdin.
//
// Most tests share one server per test package and get a database of their own:
//
//	func TestMain(m *testing.M) { chtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		db, conn := chtest.NewDatabase(t) // dropped when the test ends
//		...
//	}
//
// A test that needs a server of its own, or a configuration the shared one lacks, calls New. Start and
// Server.Stop work outside tests too.
//
// The library comes from $CHDB_LIB, else from hack/clickhouse/install.sh (which needs npm the first
// time and caches the library outside the clone). When it cannot be had, tests fail, saying why;
// CHTEST_SKIP=1 skips every test that asks chtest for a server instead.
//
// The server is clickhouse-local in server mode: one node, no replication (ReplicatedMergeTree tables are
// read-only, ON CLUSTER is refused), but MergeTree with TTLs and codecs, storage policies and, with
// Options.Keeper, an in-process keeper for KeeperMap tables all work.
package chtest

// Command chserver runs ClickHouse from libchdb.so in its own process, for internal/testkit/chtest.
//
// Usage:
//
//	chserver /path/to/libchdb.so [clickhouse-local arguments...]
//
// It loads the library with purego (no cgo) and hands the arguments to chdb_query_cmdline, the
// clickhouse-local entry point, with "clickhouse" as argv[0]. It exits when that call returns: 0 when
// the library reported no error, 1 when it did, 2 when the library cannot be loaded. ClickHouse writes
// its own errors to stderr. internal/testkit/chtest passes queries that start the TCP and HTTP listeners and
// then read stdin until end of file, so closing stdin (or the parent dying) stops the server.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/ebitengine/purego"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: chserver /path/to/libchdb.so [clickhouse-local arguments...]")
		os.Exit(2)
	}
	// A write to a closed socket in the library must fail with EPIPE, not kill the process.
	signal.Ignore(syscall.SIGPIPE)

	lib, err := load(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "chserver: %v\n", err)
		os.Exit(2)
	}
	if err := lib.run(append([]string{"clickhouse"}, os.Args[2:]...)); err != nil {
		fmt.Fprintf(os.Stderr, "chserver: %v\n", err)
		os.Exit(1)
	}
	// os.Exit skips the library's static destructors, which have nothing to flush at this point.
	os.Exit(0)
}

// chdb holds the functions of libchdb.so that chserver calls.
type chdb struct {
	queryCmdline  func(argc int32, argv **byte) uintptr
	resultError   func(result uintptr) string
	destroyResult func(result uintptr)
}

func load(path string) (*chdb, error) {
	handle, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	var lib chdb
	for name, fn := range map[string]any{
		"chdb_query_cmdline":        &lib.queryCmdline,
		"chdb_result_error":         &lib.resultError,
		"chdb_destroy_query_result": &lib.destroyResult,
	} {
		if _, err := purego.Dlsym(handle, name); err != nil {
			return nil, fmt.Errorf("%s has no symbol %s: %w", path, name, err)
		}
		purego.RegisterLibFunc(fn, handle, name)
	}
	return &lib, nil
}

// run calls chdb_query_cmdline with args as argv and returns the error the library reports.
func (lib *chdb) run(args []string) error {
	// The strings are copied into NUL-terminated byte slices on the Go heap, which does not move;
	// KeepAlive holds them until the call returns.
	bufs := make([][]byte, len(args))
	argv := make([]*byte, len(args)+1)
	for i, arg := range args {
		bufs[i] = append([]byte(arg), 0)
		argv[i] = &bufs[i][0]
	}
	result := lib.queryCmdline(int32(len(args)), &argv[0])
	runtime.KeepAlive(bufs)
	runtime.KeepAlive(argv)
	if result == 0 {
		return errors.New("chdb_query_cmdline returned no result")
	}
	defer lib.destroyResult(result)
	if msg := lib.resultError(result); msg != "" {
		return fmt.Errorf("chdb_query_cmdline: %s", msg)
	}
	return nil
}

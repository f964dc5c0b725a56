package chtest

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestStartRetriesOnPortCollision(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port

	calls := 0
	pickPorts = func(n int) ([]int, error) {
		calls++
		ports, err := freePorts(n)
		if calls == 1 && err == nil {
			ports[0] = busyPort
		}
		return ports, err
	}
	t.Cleanup(func() { pickPorts = freePorts })

	s := New(t, Options{})
	if calls != 2 {
		t.Errorf("picked ports %d times, want 2", calls)
	}
	if s.Addr == busy.Addr().String() {
		t.Errorf("server on the busy port %s", s.Addr)
	}
}

func TestRemoveStaleDirs(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	old := time.Now().Add(-2 * staleAge)
	mkdir := func(name, owner string, mtime time.Time) string {
		dir := filepath.Join(tmp, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, ownerFile)
		if err := os.WriteFile(file, []byte(owner), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(file, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	// A process id above the kernel's limit (4194304) never exists.
	dead := mkdir(dirPrefix+"dead", "4194305", old)
	alive := mkdir(dirPrefix+"alive", strconv.Itoa(os.Getpid()), old)
	young := mkdir(dirPrefix+"young", "4194305", time.Now())
	other := mkdir("other-dead", "4194305", old)

	removeStaleDirs()

	for dir, wantGone := range map[string]bool{dead: true, alive: false, young: false, other: false} {
		_, err := os.Stat(dir)
		if gone := errors.Is(err, os.ErrNotExist); gone != wantGone {
			t.Errorf("%s: removed = %v, want %v", filepath.Base(dir), gone, wantGone)
		}
	}
}

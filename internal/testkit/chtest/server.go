package chtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	defaultStartTimeout = 60 * time.Second
	stopTimeout         = 15 * time.Second
	killTimeout         = 5 * time.Second
	portAttempts        = 5
	stderrTail          = 64 << 10

	// holdQueryID is the query_id of the query that keeps the server up; it shows in system.processes.
	holdQueryID = "chtest-hold"
)

// holdQuery starts the listeners and then reads stdin until end of file. Blocked in read(2), it costs no
// CPU; interactive_delay keeps the client side of clickhouse-local from waking up ten times a second.
const holdQuery = "SYSTEM START LISTEN TCP; SYSTEM START LISTEN HTTP; " +
	"SELECT count() FROM file(stdin, 'LineAsString') SETTINGS interactive_delay = 3600000000"

// Options configure a server.
type Options struct {
	// ConfigXML is extra server configuration: a whole <clickhouse>...</clickhouse> document, merged
	// over chtest's own (it is written to config.d). The server's working directory is Server.Dir, so
	// relative paths in it, such as a local disk's <path>disks/hot/</path>, end up inside Dir.
	ConfigXML string
	// ConfigFile is the path of an extra configuration file, merged like ConfigXML and after it.
	ConfigFile string
	// Keeper adds an in-process keeper (<zookeeper><implementation>testkeeper</implementation>) and a
	// keeper_map_path_prefix, so that KeeperMap tables work.
	Keeper bool
	// Env adds environment variables (KEY=value) to the server process, e.g. the credentials a
	// from_env element of ConfigXML reads.
	Env []string
	// KeepData keeps Dir after Stop, for a look at the data. CHTEST_KEEP=1 does the same for every server.
	KeepData bool
	// StartTimeout bounds Start, including retries after a port collision. Default: 60 s.
	StartTimeout time.Duration
	// Log, when set, receives the server's stderr as it comes (the last 64 KiB go into errors anyway).
	Log io.Writer
}

// Server is a running ClickHouse server on 127.0.0.1.
type Server struct {
	// Addr is the native protocol's host:port, for clickhouse-go.
	Addr string
	// HTTPAddr is the HTTP interface's host:port.
	HTTPAddr string
	// Dir is the server's own directory and working directory: config.xml, config.d/ and DataDir.
	Dir string
	// DataDir is ClickHouse's data path (--path), inside Dir.
	DataDir string

	token string
	keep  bool
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *tailBuffer
	done  chan struct{} // closed when the child has exited
	wait  error         // cmd.Wait's result, set before done is closed

	stopOnce sync.Once
	stopErr  error
}

// Start starts a server and returns once it answers over both protocols with the token it was given.
// The caller must call Stop.
func Start(opts Options) (*Server, error) {
	lib, err := Library()
	if err != nil {
		return nil, fmt.Errorf("get libchdb.so: %w", err)
	}
	bin, err := serverBinary()
	if err != nil {
		return nil, err
	}
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = defaultStartTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	sweepOnce.Do(removeStaleDirs)
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("start ClickHouse: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		removeUnlessKept(dir, false)
		return nil, fmt.Errorf("start ClickHouse: %w", err)
	}
	keep := opts.KeepData || os.Getenv("CHTEST_KEEP") == "1"
	token := randomToken()
	if err := writeConfig(dir, token, opts); err != nil {
		removeUnlessKept(dir, keep)
		return nil, fmt.Errorf("start ClickHouse: %w", err)
	}
	for attempt := 1; ; attempt++ {
		s, err := launch(ctx, bin, lib, dir, token, opts.Env, opts.Log)
		if err == nil {
			s.keep = keep
			return s, nil
		}
		if !errors.Is(err, errPortInUse) || attempt == portAttempts || ctx.Err() != nil {
			removeUnlessKept(dir, keep)
			return nil, fmt.Errorf("start ClickHouse (attempt %d): %w", attempt, err)
		}
	}
}

var errPortInUse = errors.New("port already in use")

// launch runs one child on two fresh ports and waits until it is ready. It leaves no process behind
// when it fails.
func launch(ctx context.Context, bin, lib, dir, token string, env []string, log io.Writer) (*Server, error) {
	ports, err := pickPorts(2)
	if err != nil {
		return nil, err
	}
	s := &Server{
		Addr:     net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		HTTPAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1])),
		Dir:      dir,
		DataDir:  filepath.Join(dir, "data"),
		token:    token,
		out:      &tailBuffer{max: stderrTail},
		done:     make(chan struct{}),
	}
	cmd := exec.Command(bin, lib,
		"--path="+s.DataDir+"/",
		"--config-file="+filepath.Join(dir, "config.xml"),
		"--listen_host=127.0.0.1",
		"--tcp_port="+strconv.Itoa(ports[0]),
		"--http_port="+strconv.Itoa(ports[1]),
		"--query_id="+holdQueryID,
		"--query="+holdQuery,
	)
	cmd.Dir = dir
	// clickhouse-local ignores <timezone> in its config but follows TZ: UTC whatever the machine's zone.
	cmd.Env = append(append(os.Environ(), env...), "TZ=UTC")
	var output io.Writer = s.out
	if log != nil {
		output = io.MultiWriter(s.out, log)
	}
	cmd.Stdout, cmd.Stderr = output, output
	// Its own process group: a Ctrl-C meant for `go test` reaches the child only as the end of its stdin.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	s.cmd = cmd
	go func() {
		s.wait = cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(ctx); err != nil {
		s.terminate()
		return nil, err
	}
	return s, nil
}

// Stop ends the server: it closes the child's stdin, which ends the query that keeps it up, waits for
// it to exit (killing it after 15 s) and removes Dir unless asked to keep it. Close client connections
// first. Stop is idempotent; it reports a child that did not exit cleanly or had exited on its own.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.stopErr = s.terminate()
		removeUnlessKept(s.Dir, s.keep)
	})
	return s.stopErr
}

// terminate stops the child and reaps it.
func (s *Server) terminate() error {
	select {
	case <-s.done:
		return fmt.Errorf("ClickHouse had exited before Stop: %v\n%s", s.wait, s.out.lastLines(20))
	default:
	}
	s.stdin.Close()
	select {
	case <-s.done:
		if s.wait != nil {
			return fmt.Errorf("ClickHouse exited with %v\n%s", s.wait, s.out.lastLines(20))
		}
		return nil
	case <-time.After(stopTimeout):
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(killTimeout):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	return fmt.Errorf("ClickHouse did not stop within %s of the end of its stdin; terminated it\n%s",
		stopTimeout, s.out.lastLines(20))
}

// Pid returns the process id of the child that runs ClickHouse.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Output returns the last 64 KiB of the server's stdout and stderr.
func (s *Server) Output() string { return s.out.String() }

const (
	dirPrefix = "chtest-"
	// ownerFile in a server's Dir holds the process id of the process that started it.
	ownerFile = "chtest.owner"
	staleAge  = time.Minute
)

var sweepOnce sync.Once

// removeStaleDirs removes the directories that servers of killed test processes left in the temporary
// directory: those whose owner process is gone, older than a minute. Their servers have exited by
// then, since their stdin ended with their owner.
func removeStaleDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		info, err := os.Stat(filepath.Join(dir, ownerFile))
		if err != nil || time.Since(info.ModTime()) < staleAge {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 0 || !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			continue
		}
		_ = os.RemoveAll(dir)
	}
}

func removeUnlessKept(dir string, keep bool) {
	if keep {
		fmt.Fprintf(os.Stderr, "chtest: kept ClickHouse directory %s\n", dir)
		return
	}
	_ = os.RemoveAll(dir)
}

// pickPorts is freePorts; tests replace it to provoke a port collision.
var pickPorts = freePorts

// freePorts returns n distinct TCP ports that were free on 127.0.0.1 a moment ago. Another process may
// take one before ClickHouse binds it; Start then tries again with new ports.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

func (b *tailBuffer) lastLines(n int) string {
	s := strings.TrimSpace(b.String())
	if s == "" {
		return "(no output)"
	}
	return lastLines(s, n)
}

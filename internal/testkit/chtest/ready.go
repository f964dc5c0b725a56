package chtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

const (
	readyPoll  = 50 * time.Millisecond
	tokenQuery = "SELECT getMacro('chtest_token')"
)

// httpClient keeps no idle connection, which would make the server wait for it when it stops.
var httpClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// waitReady polls until the server answers tokenQuery with its token over HTTP and over the native
// protocol, the child exits, or ctx ends. A server that answers with another token, or not at all, is
// not ours. Errors carry the tail of the child's output; a port collision wraps errPortInUse.
func (s *Server) waitReady(ctx context.Context) error {
	var lastErr error
	ticker := time.NewTicker(readyPoll)
	defer ticker.Stop()
	for {
		select {
		case <-s.done:
			out := s.out.lastLines(20)
			if strings.Contains(out, "Address already in use") {
				return fmt.Errorf("%w: ClickHouse exited: %v\n%s", errPortInUse, s.wait, out)
			}
			return fmt.Errorf("ClickHouse exited before it was ready: %v\n%s", s.wait, out)
		case <-ctx.Done():
			return fmt.Errorf("ClickHouse not ready on %s and %s: %w (last check: %v)\n%s",
				s.Addr, s.HTTPAddr, ctx.Err(), lastErr, s.out.lastLines(20))
		case <-ticker.C:
		}
		if lastErr = s.checkHTTP(ctx); lastErr != nil {
			continue
		}
		if lastErr = s.checkNative(ctx); lastErr == nil {
			return nil
		}
	}
}

func (s *Server) checkHTTP(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	u := "http://" + s.HTTPAddr + "/?query=" + url.QueryEscape(tokenQuery)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("http: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return s.checkToken("http", strings.TrimSpace(string(body)))
}

func (s *Server) checkNative(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := clickhouse.Open(s.Options(""))
	if err != nil {
		return fmt.Errorf("native: %w", err)
	}
	defer conn.Close()
	var got string
	if err := conn.QueryRow(ctx, tokenQuery).Scan(&got); err != nil {
		return fmt.Errorf("native: %w", err)
	}
	return s.checkToken("native", got)
}

func (s *Server) checkToken(proto, got string) error {
	if got != s.token {
		return fmt.Errorf("%s: the server answers with token %q, not ours: another server has the port", proto, got)
	}
	return nil
}

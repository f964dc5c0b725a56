package contract

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
)

// clickHouseSink is the aggregator's clickhouse sink as rendered for p.
func clickHouseSink(t testing.TB, p *v1alpha1.AuditPipeline) *vector.ClickHouseSink {
	t.Helper()
	for _, c := range vector.AggregatorConfig(p).Sinks {
		if s, ok := c.(*vector.ClickHouseSink); ok {
			return s
		}
	}
	t.Fatal("the aggregator has no clickhouse sink")
	return nil
}

// formats are the ClickHouse formats of the sink's format option.
var formats = map[string]string{"json_each_row": "JSONEachRow"}

// sinkRequest is the HTTP request Vector's clickhouse sink makes for one batch of rows, but sent to
// addr (host:port) instead of the sink's endpoint and without its credentials (chtest's default user has
// none). The query string is built from the rendered sink options; an option that would change the
// request and that this function does not know about fails the test, so that it follows the sink.
func sinkRequest(t testing.TB, addr string, s *vector.ClickHouseSink, rows []map[string]any) *http.Request {
	t.Helper()
	var options map[string]any
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &options); err != nil {
		t.Fatal(err)
	}
	// Options that do not change what one request looks like.
	for _, k := range []string{"type", "inputs", "endpoint", "auth", "batch", "request", "tls", "acknowledgements", "buffer"} {
		delete(options, k)
	}
	format, ok := formats[s.Format]
	if !ok {
		t.Fatalf("sink format %q: the test only sends %v", s.Format, formats)
	}
	// The sink puts these settings first, then the query. Recent Vector passes the database and table as
	// Identifier parameters, earlier releases quoted them into the query: the server runs the same INSERT.
	var q strings.Builder
	q.WriteString("input_format_import_nested_json=1&")
	if v, ok := options["skip_unknown_fields"].(bool); ok {
		if v {
			q.WriteString("input_format_skip_unknown_fields=1&")
		} else {
			q.WriteString("input_format_skip_unknown_fields=0&")
		}
	}
	if v, _ := options["date_time_best_effort"].(bool); v {
		q.WriteString("date_time_input_format=best_effort&")
	}
	if v, _ := options["insert_random_shard"].(bool); v {
		q.WriteString("insert_distributed_one_random_shard=1&")
	}
	q.WriteString(url.Values{
		"query":          {"INSERT INTO {database:Identifier}.{table:Identifier} FORMAT " + format},
		"param_database": {s.Database},
		"param_table":    {s.Table},
	}.Encode())
	for _, k := range []string{"database", "table", "format", "skip_unknown_fields", "date_time_best_effort", "insert_random_shard", "compression"} {
		delete(options, k)
	}
	if len(options) > 0 {
		keys := make([]string, 0, len(options))
		for k := range options {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		t.Fatalf("the rendered sink has options %v that the test does not send like Vector does", keys)
	}

	// JSONEachRow: one JSON object per line.
	var body bytes.Buffer
	for _, r := range rows {
		line, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		body.Write(line)
		body.WriteByte('\n')
	}
	var encoding string
	switch s.Compression {
	case "gzip":
		var gz bytes.Buffer
		w := gzip.NewWriter(&gz)
		if _, err := w.Write(body.Bytes()); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		body, encoding = gz, "gzip"
	case "none", "":
	default:
		t.Fatalf("sink compression %q: the test sends gzip or none", s.Compression)
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/?"+q.String(), bytes.NewReader(body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	return req
}

// insert sends rows to addr as the sink would and fails the test unless ClickHouse accepts them all.
func insert(t testing.TB, addr string, s *vector.ClickHouseSink, rows []map[string]any) {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(sinkRequest(t, addr, s, rows))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ClickHouse rejected the batch: %s: %s", resp.Status, msg)
	}
}

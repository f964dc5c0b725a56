package sinkhttp

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// sink is the aggregator's clickhouse sink as the operator renders it for a pipeline writing to database.
func sink(database string) *vector.ClickHouseSink {
	p := &v1alpha1.AuditPipeline{}
	p.Name, p.Namespace = "audit", "audit-system"
	p.Spec.ClickHouse.Database = database
	return vector.AggregatorClickHouseSink(p)
}

func TestFor(t *testing.T) {
	s := sink("audit")
	in, err := For(s, map[string]string{"b_setting": "2", "a_setting": "x y"})
	if err != nil {
		t.Fatal(err)
	}
	if in.Format != "JSONEachRow" || in.Encoding != "gzip" {
		t.Errorf("format %q, encoding %q; want JSONEachRow and gzip (the rendered sink's)", in.Format, in.Encoding)
	}
	// The sink's settings first, in Vector's order, then the extra ones by name, then the query.
	want := "input_format_import_nested_json=1&input_format_skip_unknown_fields=1&a_setting=x+y&b_setting=2&"
	if !strings.HasPrefix(in.Query, want) {
		t.Errorf("query string %q does not start with %q", in.Query, want)
	}
	q, err := url.ParseQuery(in.Query)
	if err != nil {
		t.Fatal(err)
	}
	if got := q.Get("query"); got != "INSERT INTO {database:Identifier}.{table:Identifier} FORMAT JSONEachRow" {
		t.Errorf("query %q", got)
	}
	if q.Get("param_database") != "audit" || q.Get("param_table") != vector.EventsTable {
		t.Errorf("parameters %v", q)
	}

	for _, c := range []struct {
		name   string
		change func(*vector.ClickHouseSink)
		want   string
	}{
		{"format", func(s *vector.ClickHouseSink) { s.Format = "arrow_stream" }, `sink format "arrow_stream"`},
		{"compression", func(s *vector.ClickHouseSink) { s.Compression = "zstd" }, `sink compression "zstd"`},
	} {
		changed := *s
		c.change(&changed)
		if _, err := For(&changed, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming %s", c.name, err, c.want)
		}
	}
	plain := *s
	plain.Compression = "none"
	if in, err := For(&plain, nil); err != nil || in.Encoding != "" {
		t.Errorf("compression none: encoding %q, error %v", in.Encoding, err)
	}
}

func TestBody(t *testing.T) {
	rows := []map[string]any{{"name": "a<b>&c", "n": 1}, {"name": "é\"\n", "n": 2}}
	want := "{\"n\":1,\"name\":\"a<b>&c\"}\n{\"n\":2,\"name\":\"é\\\"\\n\"}\n"
	for _, encoding := range []string{"", "gzip"} {
		in := Insert{Format: "JSONEachRow", Encoding: encoding}
		body, err := in.Body(rows)
		if err != nil {
			t.Fatal(err)
		}
		if encoding == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		if string(body) != want {
			t.Errorf("encoding %q: body\n%s\nwant\n%s", encoding, body, want)
		}
	}
	// Encode's result is its own: the text may be reused.
	in := Insert{Format: "JSONEachRow"}
	text := []byte("{}\n")
	body, _ := in.Encode(text)
	text[0] = 'x'
	if string(body) != "{}\n" {
		t.Errorf("Encode shares its argument: %q", body)
	}
}

// TestSend sends a batch to a real ClickHouse: accepted into a table that takes it, and an error that
// carries ClickHouse's message when the table is not there.
func TestSend(t *testing.T) {
	srv := chtest.Shared(t)
	database, conn := srv.NewDatabase(t)
	ctx := context.Background()
	if err := conn.Exec(ctx, "CREATE TABLE "+database+".events (name String, n UInt8) ENGINE = MergeTree ORDER BY n"); err != nil {
		t.Fatal(err)
	}
	in, err := For(sink(database), map[string]string{"optimize_on_insert": "0"})
	if err != nil {
		t.Fatal(err)
	}
	body, err := in.Body([]map[string]any{{"name": "a", "n": 1}, {"name": "b", "n": 2, "unknown": true}})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	if err := in.Send(ctx, client, srv.HTTPAddr, body); err != nil {
		t.Fatal(err)
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+database+".events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("%d rows inserted, want 2", n)
	}
	missing, err := For(sink(database+"_missing"), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = missing.Send(ctx, client, srv.HTTPAddr, body)
	if err == nil || !strings.Contains(err.Error(), "rejected the batch") || !strings.Contains(err.Error(), "UNKNOWN_DATABASE") {
		t.Errorf("send to a database that does not exist: %v", err)
	}
}

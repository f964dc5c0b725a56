// Package sinkhttp makes the HTTP requests that Vector's clickhouse sink makes for a sink the operator
// renders (vector.ClickHouseSink): the contract tests send them to a real ClickHouse to check that the
// rows the aggregator makes go into the migrated table, and the bench times them.
//
// It follows the sink: an option of the rendered sink that would change the request and that this
// package does not know about is an error, not silently left out.
package sinkhttp

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
)

// formats are the ClickHouse formats of the sink's format option.
var formats = map[string]string{"json_each_row": "JSONEachRow"}

// ignored are the sink's options that do not change what one request looks like.
var ignored = []string{"type", "inputs", "endpoint", "auth", "batch", "request", "tls", "acknowledgements", "buffer"}

// Insert is what the sink sends for its batches, save the body: the query string and the body's
// format and encoding.
type Insert struct {
	// Query is the URL's query string: the sink's settings, then the INSERT.
	Query string
	// Format is the ClickHouse format of the body; Encoding its Content-Encoding ("" for none).
	Format, Encoding string
}

// For is the insert that s makes. The settings come from the rendered options; the sink puts them
// first, then the query. Recent Vector passes the database and table as Identifier parameters, earlier
// releases quoted them into the query: the server runs the same INSERT. extra are settings the sink
// does not send but the request should carry (the bench's stand-in for the aggregator user's profile).
func For(s *vector.ClickHouseSink, extra map[string]string) (Insert, error) {
	var options map[string]any
	raw, err := json.Marshal(s)
	if err != nil {
		return Insert{}, err
	}
	if err := json.Unmarshal(raw, &options); err != nil {
		return Insert{}, err
	}
	for _, k := range ignored {
		delete(options, k)
	}
	in := Insert{}
	var ok bool
	if in.Format, ok = formats[s.Format]; !ok {
		return Insert{}, fmt.Errorf("sink format %q: only %v are known", s.Format, keys(formats))
	}
	switch s.Compression {
	case "gzip":
		in.Encoding = "gzip"
	case "none", "":
	default:
		return Insert{}, fmt.Errorf("sink compression %q: only gzip and none are known", s.Compression)
	}
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
	for _, k := range keys(extra) {
		q.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(extra[k]) + "&")
	}
	q.WriteString(url.Values{
		"query":          {"INSERT INTO {database:Identifier}.{table:Identifier} FORMAT " + in.Format},
		"param_database": {s.Database},
		"param_table":    {s.Table},
	}.Encode())
	in.Query = q.String()
	for _, k := range []string{"database", "table", "format", "skip_unknown_fields", "date_time_best_effort", "insert_random_shard", "compression"} {
		delete(options, k)
	}
	if len(options) > 0 {
		return Insert{}, fmt.Errorf("the rendered sink has options %v that are not sent as Vector sends them", keys(options))
	}
	return in, nil
}

// Body is rows as the body of one request: in the insert's format and encoding.
func (in Insert) Body(rows []map[string]any) ([]byte, error) {
	var text []byte
	for _, r := range rows {
		line, err := in.Line(r)
		if err != nil {
			return nil, err
		}
		text = append(text, line...)
	}
	return in.Encode(text)
}

// Line is one row as the insert's format writes it (JSONEachRow: a JSON object and a newline; no
// HTML escaping, as Vector's encoder).
func (in Insert) Line(row map[string]any) ([]byte, error) {
	if in.Format != "JSONEachRow" {
		return nil, fmt.Errorf("format %q: only JSONEachRow is known", in.Format)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(row); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Encode is text (Lines one after the other) in the insert's encoding, in a slice of its own.
func (in Insert) Encode(text []byte) ([]byte, error) {
	switch in.Encoding {
	case "":
		return bytes.Clone(text), nil
	case "gzip":
		var gz bytes.Buffer
		w := gzip.NewWriter(&gz)
		if _, err := w.Write(text); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return gz.Bytes(), nil
	default:
		return nil, fmt.Errorf("encoding %q: only gzip and none are known", in.Encoding)
	}
}

// Send posts body (from Body) to the ClickHouse HTTP interface at addr (host:port), without the sink's
// credentials, and returns an error unless ClickHouse accepted the whole batch.
func (in Insert) Send(ctx context.Context, client *http.Client, addr string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/?"+in.Query, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if in.Encoding != "" {
		req.Header.Set("Content-Encoding", in.Encoding)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ClickHouse rejected the batch: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

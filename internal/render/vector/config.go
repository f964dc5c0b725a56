package vector

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"
)

// Config is a Vector configuration file: the global options the pipeline uses and its components, keyed
// by component id. Only options Vector really has are modelled (the package's tests check every key
// against Vector's reference); the json names are Vector's option names.
type Config struct {
	// DataDir is where Vector keeps its disk buffers.
	DataDir string `json:"data_dir"`
	// API serves /health for the probes.
	API *API `json:"api,omitempty"`
	// Sources, Transforms and Sinks by component id.
	Sources    map[string]Component `json:"sources"`
	Transforms map[string]Component `json:"transforms,omitempty"`
	Sinks      map[string]Component `json:"sinks"`
	// Tests are Vector unit tests of the transforms' programs (unittests.go), which `vector test` runs
	// and a running Vector ignores.
	Tests []UnitTest `json:"tests,omitempty"`
}

// API is Vector's global api section. Newer Vector versions accept only these two keys.
type API struct {
	Enabled bool   `json:"enabled"`
	Address string `json:"address"`
}

// Component is a source, transform or sink.
type Component interface {
	componentType() string
	componentInputs() []string
}

// Header holds the options every component has: its type and, for transforms and sinks, its inputs.
type Header struct {
	Type   string   `json:"type"`
	Inputs []string `json:"inputs,omitempty"`
}

func (h Header) componentType() string     { return h.Type }
func (h Header) componentInputs() []string { return h.Inputs }

// TLS is Vector's TLS block for clients and servers. Enabled exists only where Vector has it (the
// clickhouse sink decides TLS from the endpoint's scheme and has no such key).
type TLS struct {
	Enabled           *bool  `json:"enabled,omitempty"`
	CAFile            string `json:"ca_file,omitempty"`
	CrtFile           string `json:"crt_file,omitempty"`
	KeyFile           string `json:"key_file,omitempty"`
	VerifyCertificate *bool  `json:"verify_certificate,omitempty"`
	VerifyHostname    *bool  `json:"verify_hostname,omitempty"`
}

// Acknowledgements turns end-to-end acknowledgements on for a sink.
type Acknowledgements struct {
	Enabled bool `json:"enabled"`
}

// Buffer is a sink's buffer. The pipeline only uses disk buffers that block when full.
type Buffer struct {
	Type     string `json:"type"`
	MaxSize  int64  `json:"max_size"`
	WhenFull string `json:"when_full"`
}

// Request is the retry and timeout policy of a sink's requests.
type Request struct {
	RetryAttempts           *int64 `json:"retry_attempts,omitempty"`
	RetryInitialBackoffSecs int64  `json:"retry_initial_backoff_secs,omitempty"`
	RetryMaxDurationSecs    int64  `json:"retry_max_duration_secs,omitempty"`
	TimeoutSecs             int64  `json:"timeout_secs,omitempty"`
}

// Marshal renders c as YAML. Values that reference environment variables (${NAME}) are written
// double-quoted, so that a value Vector substitutes into the text before parsing it stays one YAML
// string even when it holds characters such as ':' or '#'. A value that is a reference to one of
// textEnv, whose content is the user's (a password), is written as a literal block scalar with an
// explicit indentation indicator instead: YAML takes every character of such a line as it is, so the
// value may hold quotes, backslashes, '#', leading spaces and anything else but what CheckEnvText
// refuses.
func Marshal(c *Config) ([]byte, error) {
	if err := CheckTopology(c); err != nil {
		return nil, err
	}
	plain, err := yaml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("marshal vector config: %w", err)
	}
	var doc yamlv3.Node
	if err := yamlv3.Unmarshal(plain, &doc); err != nil {
		return nil, fmt.Errorf("reparse vector config: %w", err)
	}
	quoteEnvReferences(&doc)
	var out bytes.Buffer
	enc := yamlv3.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("marshal vector config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("marshal vector config: %w", err)
	}
	return indentTextReferences(out.Bytes())
}

// envReference matches Vector's ${NAME} environment variable interpolation.
var envReference = regexp.MustCompile(`\$\{[A-Za-z0-9_.]+\}`)

// textEnv are the environment variables whose values are text the user chose, which Marshal writes as
// literal block scalars.
var textEnv = map[string]bool{EnvClickHousePassword: true}

func textReference(value string) bool {
	name, ok := strings.CutPrefix(value, "${")
	name, closed := strings.CutSuffix(name, "}")
	return ok && closed && textEnv[name]
}

func quoteEnvReferences(n *yamlv3.Node) {
	switch {
	case n.Kind == yamlv3.ScalarNode && textReference(n.Value):
		n.Style = yamlv3.LiteralStyle
	case n.Kind == yamlv3.ScalarNode && envReference.MatchString(n.Value):
		n.Style = yamlv3.DoubleQuotedStyle
	}
	for _, c := range n.Content {
		quoteEnvReferences(c)
	}
}

// indentTextReferences gives each literal block scalar of a textEnv reference an explicit indentation
// indicator. Without one, YAML takes the indentation of the block's first line from the value itself,
// so a password that starts with a space would lose its leading spaces. The indicator counts from the
// indentation of the key the block belongs to, which for a key after a sequence's "- " is the column
// of the key.
func indentTextReferences(doc []byte) ([]byte, error) {
	lines := strings.Split(string(doc), "\n")
	for i := 0; i+1 < len(lines); i++ {
		head, ok := strings.CutSuffix(lines[i], ": |-")
		value := strings.TrimLeft(lines[i+1], " ")
		if !ok || !textReference(value) {
			continue
		}
		keyColumn := len(head) - len(strings.TrimLeft(head, " -"))
		indent := len(lines[i+1]) - len(value) - keyColumn
		if indent < 1 || indent > 9 {
			return nil, fmt.Errorf("marshal vector config: %s at indentation %d under its key", value, indent)
		}
		lines[i] = fmt.Sprintf("%s: |%d-", head, indent)
	}
	return []byte(strings.Join(lines, "\n")), nil
}

// What both roles' configurations share: the data directory, the API that serves /health, the
// internal metrics exported to Prometheus, and the disk buffer of the sinks.

// DataDir holds Vector's disk buffer: a host path (collector) or a PersistentVolumeClaim (aggregator).
const DataDir = "/var/lib/vector"

// Ports of the Vector containers.
const (
	// APIPort serves Vector's /health endpoint for the probes.
	APIPort = 8686
	// MetricsPort serves Prometheus metrics.
	MetricsPort = 9598
)

// The component ids of Vector's own metrics, in both roles.
const (
	metricsSource = "vector_metrics"
	metricsSink   = "prometheus"
)

// minDiskBufferBytes is the smallest disk buffer Vector accepts.
const minDiskBufferBytes = 268435488

// remap is the header of a remap transform that reads input.
func remap(input string) Header {
	return Header{Type: "remap", Inputs: []string{input}}
}

// prometheusExporter serves Vector's own metrics on MetricsPort.
func prometheusExporter() *PrometheusExporterSink {
	return &PrometheusExporterSink{
		Header:  Header{Type: "prometheus_exporter", Inputs: []string{metricsSource}},
		Address: fmt.Sprintf("0.0.0.0:%d", MetricsPort),
	}
}

// diskBuffer is a sink's disk buffer of maxSize bytes (at least Vector's smallest), blocking when full.
func diskBuffer(maxSize int64) *Buffer {
	return &Buffer{Type: "disk", MaxSize: max(maxSize, minDiskBufferBytes), WhenFull: "block"}
}

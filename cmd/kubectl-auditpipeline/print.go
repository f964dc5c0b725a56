package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"

	"github.com/auditpipeline/auditpipeline-operator/internal/query"
)

// printer writes events as a table, a wide table, JSON lines or YAML documents.
type printer struct {
	w      io.Writer
	format string
	tw     *tabwriter.Writer
	header bool
	// streaming prints the table's header once, and rows as they come.
	streaming bool
}

func newPrinter(w io.Writer, format string) (*printer, error) {
	switch format {
	case "table", "wide", "json", "yaml":
	default:
		return nil, fmt.Errorf("-o must be table, wide, json or yaml, not %q", format)
	}
	return &printer{w: w, format: format, tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}, nil
}

func (p *printer) print(events []query.Event) error {
	for _, e := range events {
		switch p.format {
		case "json":
			if _, err := fmt.Fprintln(p.w, e.JSON); err != nil {
				return err
			}
		case "yaml":
			b, err := yaml.JSONToYAML([]byte(e.JSON))
			if err != nil {
				return fmt.Errorf("event %s as YAML: %w", e.AuditID, err)
			}
			if _, err := fmt.Fprintf(p.w, "---\n%s", b); err != nil {
				return err
			}
		default:
			cells := []string{e.Time.Format("2006-01-02T15:04:05.000Z"), dash(e.Verb), dash(e.User),
				dash(e.Namespace), dash(e.Resource), dash(e.Name), code(e.Code)}
			if p.format == "wide" {
				tenant := e.Tenant
				if e.TenantType != "" {
					tenant = e.TenantType + "/" + e.Tenant
				}
				cells = append(cells, dash(e.Subresource), dash(tenant), dash(e.Cluster), e.AuditID)
			}
			if !p.header {
				p.header = true
				p.row(header[:len(cells)])
			}
			p.row(cells)
		}
	}
	return nil
}

// header names the table's columns; streamWidths are their widths when rows are printed as they come
// (tail -f), where a table cannot be aligned on rows not seen yet.
var (
	header       = []string{"TIMESTAMP", "VERB", "USER", "NAMESPACE", "RESOURCE", "NAME", "STATUS", "SUBRESOURCE", "TENANT", "CLUSTER", "AUDIT-ID"}
	streamWidths = []int{24, 8, 32, 16, 16, 24, 6, 11, 16, 12, 36}
)

// row writes one row: through the tabwriter, or padded to streamWidths when streaming.
func (p *printer) row(cells []string) {
	if !p.streaming {
		fmt.Fprintln(p.tw, strings.Join(cells, "\t"))
		return
	}
	var b strings.Builder
	for i, c := range cells {
		if i == len(cells)-1 {
			b.WriteString(c)
			break
		}
		fmt.Fprintf(&b, "%-*s  ", streamWidths[i], c)
	}
	fmt.Fprintln(p.w, b.String())
}

func (p *printer) flush() error { return p.tw.Flush() }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func code(c uint16) string {
	if c == 0 {
		return "-"
	}
	return strconv.Itoa(int(c))
}

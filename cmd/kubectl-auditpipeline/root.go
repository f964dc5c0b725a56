package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/auditpipeline/auditpipeline-operator/internal/query"
)

// newRootCommand is `kubectl auditpipeline` with its subcommands, writing to stdout and stderr.
func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	return newRoot(stdout, stderr, &connection{})
}

// newRoot is newRootCommand connecting with c, whose flags it sets (tests give c a REST config).
func newRoot(stdout, stderr io.Writer, c *connection) *cobra.Command {
	root := &cobra.Command{
		Use:   "kubectl-auditpipeline",
		Short: "Read the audit trail an AuditPipeline stores in ClickHouse",
		Long: `Read the audit trail an AuditPipeline stores in ClickHouse: list events with a CEL filter (query),
one object's changes with diffs (history), or follow new events (tail).

It connects through the AuditPipeline named with --pipeline (or the only one in the cluster), reading the
ClickHouse password from the pipeline's Secret and port-forwarding to a managed ClickHouse, or directly with
--clickhouse. With --via-api it reads through the audit API instead, with your own Kubernetes identity:
RBAC decides which namespaces' events you see, and no database credentials are needed. Reference:
docs/query.md, docs/auditapi.md.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	f := root.PersistentFlags()
	f.StringVar(&c.pipeline, "pipeline", "", "the AuditPipeline to read, [NAMESPACE/]NAME (default: the only one in the cluster)")
	f.StringVar(&c.kubeconfig, "kubeconfig", "", "path to the kubeconfig file")
	f.StringVar(&c.context, "context", "", "the kubeconfig context to use")
	f.StringVar(&c.clickhouse, "clickhouse", "", "connect to ClickHouse directly at HOST:PORT (native protocol) instead of through a pipeline")
	f.StringVar(&c.user, "clickhouse-user", "default", "ClickHouse user, with --clickhouse")
	f.StringVar(&c.passwordFile, "clickhouse-password-file", "", "file holding the ClickHouse password, with --clickhouse")
	f.BoolVar(&c.viaAPI, "via-api", false, "read through the audit API (audit.auditpipeline.io) with your own Kubernetes identity and RBAC, without database credentials (docs/auditapi.md)")
	f.StringVar(&c.database, "database", "", "the audit database (default: the pipeline's spec.clickhouse.database, or audit)")
	root.AddCommand(newQueryCommand(c), newHistoryCommand(c), newTailCommand(c))
	return root
}

// filterFlags are the filters query and tail share.
type filterFlags struct {
	filter                                string
	user, verb, resource, name, namespace string
}

func (ff *filterFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&ff.filter, "filter", "", "CEL expression over the audit event, e.g. objectRef.resource != 'leases' && responseStatus.code >= 400")
	f.StringVar(&ff.user, "user", "", "only events of this user.username")
	f.StringVar(&ff.verb, "verb", "", "only events of this verb")
	f.StringVar(&ff.resource, "resource", "", "only events on this objectRef.resource (plural, e.g. deployments)")
	f.StringVar(&ff.name, "name", "", "only events on objects of this name")
	f.StringVarP(&ff.namespace, "namespace", "n", "", "only events in this objectRef.namespace")
}

func (ff *filterFlags) request() (query.Request, error) {
	r := query.Request{User: ff.user, Verb: ff.verb, Resource: ff.resource, Name: ff.name, Namespace: ff.namespace, Now: time.Now().UTC()}
	if ff.filter != "" {
		filter, err := query.Compile(ff.filter)
		if err != nil {
			return r, fmt.Errorf("--filter: %w", err)
		}
		r.Filter = filter
	}
	return r, nil
}

// isTerminal says whether w is a terminal (colour, and a table's full width).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/auditpipeline/auditpipeline-operator/internal/query"
)

func newHistoryCommand(c *connection) *cobra.Command {
	var h query.HistoryRequest
	var o query.DiffOptions
	var color string
	cmd := &cobra.Command{
		Use:   "history RESOURCE NAME",
		Short: "One object's changes, oldest first, with --diff the object's diff between them",
		Example: `  kubectl auditpipeline history deployments web -n shop
  kubectl auditpipeline history configmap web-config -n shop --diff
  kubectl auditpipeline history clusterroles admin --diff --show-managed-fields`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			h.Resource, h.Name = args[0], args[1]
			switch color {
			case "auto":
				o.Color = isTerminal(cmd.OutOrStdout())
			case "always":
				o.Color = true
			case "never":
			default:
				return fmt.Errorf("--color must be auto, always or never, not %q", color)
			}
			h.Whole = o.Diff
			client, closeFn, err := c.open(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer closeFn()
			events, err := client.History(cmd.Context(), h)
			if err != nil {
				return err
			}
			if len(events) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "No writes of %s %q in namespace %q are stored.\n", args[0], h.Name, h.Namespace)
				return nil
			}
			return query.WriteHistory(cmd.OutOrStdout(), query.HistoryChanges(events, o.Diff), o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&h.Namespace, "namespace", "n", "", "the object's namespace (none for a cluster-scoped object)")
	f.BoolVar(&o.Diff, "diff", false, "show the object's unified diff between consecutive changes, from the bodies the audit policy recorded")
	f.BoolVar(&o.ShowManagedFields, "show-managed-fields", false, "keep metadata.managedFields and metadata.resourceVersion in diffs")
	f.StringVar(&color, "color", "auto", "colour the diff: auto (on a terminal), always or never")
	f.StringVar(&h.Tenant, "tenant", "", "only this tenant's writes")
	f.StringVar(&h.TenantType, "tenant-type", "", "only writes of tenants of this type")
	f.StringVar(&h.Cluster, "cluster", "", "only writes in this cluster (the cluster column)")
	f.IntVar(&h.Limit, "limit", 100, "the newest writes to show (at most 10000)")
	return cmd
}

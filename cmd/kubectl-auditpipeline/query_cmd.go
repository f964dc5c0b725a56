package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

func newQueryCommand(c *connection) *cobra.Command {
	var ff filterFlags
	var since time.Duration
	var from, to, output, cont string
	var limit int
	var allPages bool
	cmd := &cobra.Command{
		Use:   "query",
		Short: "List audit events, newest first",
		Example: `  kubectl auditpipeline query --filter "objectRef.resource != 'leases'" --limit 10
  kubectl auditpipeline query --user alice@example.com --since 1h -o wide
  kubectl auditpipeline query --filter "verb == 'delete' && objectRef.resource == 'deployments'" --from 2026-12-01T00:00:00Z
  kubectl auditpipeline query --filter "responseStatus.code == 403" -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := ff.request()
			if err != nil {
				return err
			}
			if r.From, r.To, err = timeRange(r.Now, since, from, to); err != nil {
				return err
			}
			r.Limit, r.Continue, r.Whole = limit, cont, output == "json" || output == "yaml"
			p, err := newPrinter(cmd.OutOrStdout(), output)
			if err != nil {
				return err
			}
			client, closeFn, err := c.open(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer closeFn()
			for {
				page, err := client.List(cmd.Context(), r)
				if err != nil {
					return err
				}
				if err := p.print(page.Events); err != nil {
					return err
				}
				if page.Continue == "" {
					return p.flush()
				}
				if !allPages {
					if err := p.flush(); err != nil {
						return err
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "More results available. Use --continue=%s (with the same filters), or --all-pages.\n", page.Continue)
					return nil
				}
				r.Continue = page.Continue
			}
		},
	}
	ff.add(cmd)
	f := cmd.Flags()
	f.DurationVar(&since, "since", 0, "only events of the last duration, e.g. 1h (default 24h when neither --from nor --to is given)")
	f.StringVar(&from, "from", "", "only events at or after this time (RFC 3339, e.g. 2026-12-01T00:00:00Z)")
	f.StringVar(&to, "to", "", "only events at or before this time (RFC 3339)")
	f.IntVar(&limit, "limit", 100, "events per page (at most 10000)")
	f.StringVar(&cont, "continue", "", "the token the previous page printed, to list the next page")
	f.BoolVar(&allPages, "all-pages", false, "list every page")
	f.StringVarP(&output, "output", "o", "table", "table, wide, json (one whole audit event per line) or yaml")
	return cmd
}

// timeRange resolves --since, --from and --to.
func timeRange(now time.Time, since time.Duration, from, to string) (time.Time, time.Time, error) {
	var f, t time.Time
	var err error
	if since < 0 {
		return f, t, errors.New("--since must be positive, e.g. 1h")
	}
	if since > 0 && from != "" {
		return f, t, errors.New("give --since or --from, not both")
	}
	if from != "" {
		if f, err = time.Parse(time.RFC3339Nano, from); err != nil {
			return f, t, fmt.Errorf("--from must be an RFC 3339 time such as 2026-12-01T00:00:00Z: %w", err)
		}
	}
	if to != "" {
		if t, err = time.Parse(time.RFC3339Nano, to); err != nil {
			return f, t, fmt.Errorf("--to must be an RFC 3339 time such as 2026-12-01T00:00:00Z: %w", err)
		}
	}
	if since > 0 {
		end := now
		if !t.IsZero() {
			end = t
		}
		f = end.Add(-since)
	}
	return f, t, nil
}

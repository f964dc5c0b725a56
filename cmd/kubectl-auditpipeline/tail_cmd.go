package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/auditpipeline/auditpipeline-operator/internal/query"
)

func newTailCommand(c *connection) *cobra.Command {
	var ff filterFlags
	var since, interval time.Duration
	var output string
	var follow bool
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Show the newest audit events, and with -f follow new ones until Ctrl-C",
		Example: `  kubectl auditpipeline tail -f --namespace shop
  kubectl auditpipeline tail -f --filter "verb in ['create', 'update', 'patch', 'delete']" -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := ff.request()
			if err != nil {
				return err
			}
			if interval < 500*time.Millisecond {
				return fmt.Errorf("--interval must be at least 500ms")
			}
			p, err := newPrinter(cmd.OutOrStdout(), output)
			if err != nil {
				return err
			}
			p.streaming = true
			r.Whole = output == "json" || output == "yaml"
			client, closeFn, err := c.open(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer closeFn()
			if !follow {
				now := time.Now().UTC()
				r.Now, r.From, r.To, r.Limit = now, now.Add(-since), now, query.MaxLimit
				page, err := client.List(cmd.Context(), r)
				if err != nil {
					return err
				}
				slices.Reverse(page.Events)
				if page.Continue != "" {
					fmt.Fprintf(cmd.ErrOrStderr(), "More than %d events in the last %s: showing the newest %d; query --all-pages lists them all.\n",
						len(page.Events), since, len(page.Events))
				}
				if err := p.print(page.Events); err != nil {
					return err
				}
				return p.flush()
			}
			return query.Follow(cmd.Context(), client, r, since, interval, func(e query.Event) error {
				if err := p.print([]query.Event{e}); err != nil {
					return err
				}
				return p.flush()
			}, func(msg string) { fmt.Fprintln(cmd.ErrOrStderr(), "warning:", msg) })
		},
	}
	ff.add(cmd)
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "follow new events until interrupted")
	f.DurationVar(&since, "since", time.Minute, "start with the events of the last duration")
	f.DurationVar(&interval, "interval", 2*time.Second, "how often to look for new events, with -f")
	f.StringVarP(&output, "output", "o", "table", "table, wide, json or yaml")
	return cmd
}

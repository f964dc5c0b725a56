package migrations

import "embed"

// FS holds every migration file of this directory; internal/migrate.Load reads and checks them.
//
//go:embed *.sql
var FS embed.FS

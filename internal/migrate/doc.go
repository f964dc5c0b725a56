// Package migrate applies the embedded audit schema migrations (the migrations package) to ClickHouse.
// Load reads and checks the migration files: names, unique versions, templates (TemplateData) and
// goose annotations. It does not import client-go or controller-runtime.
package migrate

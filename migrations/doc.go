// Package migrations holds the audit schema as numbered goose SQL files (NNNNN_name.sql), embedded in
// the operator binary: the binary is the single source of truth, so every file in this directory is
// applied, and no file can be forgotten in a mount. Each file has a "-- +goose Up" section only: the
// operator never migrates down. Files are text/template templates rendered for the ClickHouse
// topology (see internal/migrate.TemplateData and docs/migrations.md); once a version is applied, its
// file must never change (the operator compares sha256 checksums and stops on a difference).
package migrations

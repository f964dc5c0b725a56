package chtest

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Options returns clickhouse-go options for the native protocol, user default, with database as the
// current database ("" for the server's default).
func (s *Server) Options(database string) *clickhouse.Options {
	return &clickhouse.Options{
		Addr:        []string{s.Addr},
		Protocol:    clickhouse.Native,
		Auth:        clickhouse.Auth{Database: database, Username: "default"},
		DialTimeout: 5 * time.Second,
	}
}

// HTTPOptions returns clickhouse-go options for the HTTP interface, like Options.
func (s *Server) HTTPOptions(database string) *clickhouse.Options {
	opts := s.Options(database)
	opts.Addr = []string{s.HTTPAddr}
	opts.Protocol = clickhouse.HTTP
	return opts
}

// Conn opens a native connection with database as the current database.
func (s *Server) Conn(database string) (driver.Conn, error) {
	conn, err := clickhouse.Open(s.Options(database))
	if err != nil {
		return nil, fmt.Errorf("connect to ClickHouse at %s: %w", s.Addr, err)
	}
	return conn, nil
}

// OpenDB returns a database/sql handle over the native protocol with database as the current database,
// for code that takes a *sql.DB (goose, for one).
func (s *Server) OpenDB(database string) *sql.DB {
	return clickhouse.OpenDB(s.Options(database))
}

package clickhouse

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// DialTimeout bounds how long connecting to one server may take.
const DialTimeout = 5 * time.Second

// Endpoint is how to reach and log in to ClickHouse. Password and TLS material come from Secrets; they
// must never be logged (String omits them).
type Endpoint struct {
	// Addrs are host:port pairs of the native protocol, tried in order.
	Addrs []string
	// Database is the database queries run in by default.
	Database string
	// Username and Password log in.
	Username string
	Password string
	// TLS, when not nil, turns on TLS with this configuration.
	TLS *tls.Config
}

// String names the endpoint without its secrets.
func (e Endpoint) String() string {
	return fmt.Sprintf("%v as %s", e.Addrs, e.Username)
}

func (e Endpoint) options() *ch.Options {
	return &ch.Options{
		Addr:        e.Addrs,
		Auth:        ch.Auth{Database: e.Database, Username: e.Username, Password: e.Password},
		TLS:         e.TLS,
		DialTimeout: DialTimeout,
		Protocol:    ch.Native,
	}
}

// Open returns a native-protocol connection pool to e. It does not dial until first used.
func Open(e Endpoint) (driver.Conn, error) {
	conn, err := ch.Open(e.options())
	if err != nil {
		return nil, fmt.Errorf("open ClickHouse connection to %s: %w", e, err)
	}
	return conn, nil
}

// OpenDB returns e as a database/sql pool, the form goose takes.
func OpenDB(e Endpoint) *sql.DB {
	return ch.OpenDB(e.options())
}

// ServerVersion connects to e and returns the server's version, proving it is reachable and the
// credentials are accepted.
func ServerVersion(ctx context.Context, e Endpoint) (string, error) {
	conn, err := Open(e)
	if err != nil {
		return "", err
	}
	defer func() { _ = conn.Close() }()
	ctx, cancel := context.WithTimeout(ctx, 2*DialTimeout)
	defer cancel()
	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		return "", fmt.Errorf("query ClickHouse at %s: %w", e, err)
	}
	return version, nil
}

// IsAuthError reports whether err is ClickHouse refusing the user or password (code 516), which a
// retry cannot fix.
func IsAuthError(err error) bool {
	var ex *ch.Exception
	return errors.As(err, &ex) && ex.Code == 516
}

// TLSConfig builds a TLS configuration from PEM material: a CA bundle (empty for the system roots) and an
// optional client certificate and key.
func TLSConfig(serverName string, caPEM, certPEM, keyPEM []byte, insecureSkipVerify bool) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: serverName, MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecureSkipVerify} //nolint:gosec // only when the user asks for it
	if len(caPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, errors.New("the CA bundle holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	if len(certPEM) > 0 || len(keyPEM) > 0 {
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

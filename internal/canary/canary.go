// Package canary proves that audit events flow end to end: it makes a request to the API server that the
// audit policy records, with an Audit-ID it chooses, and later finds that request's audit event in
// ClickHouse. It also reads how recent the stored events are. The controller drives it (EventsFlowing).
package canary

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/google/uuid"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
)

// UserAgent is the user agent of every canary request: its audit event's userAgent, by which a query
// tells canaries apart (`!userAgent.startsWith('auditpipeline-canary/')`).
const UserAgent = "auditpipeline-canary/v1"

// ID is the audit ID of a pipeline's canary number seq: a UUID (version 8) whose first half comes from
// the pipeline's UID and second half is seq, so that it is a valid UUID the events table keeps in its
// audit_id column, and one pipeline's canaries never collide with another's.
func ID(pipeline types.UID, seq int64) uuid.UUID {
	var u uuid.UUID
	h := sha256.Sum256([]byte(pipeline))
	copy(u[:8], h[:8])
	binary.BigEndian.PutUint64(u[8:], uint64(seq))
	u[6] = (u[6] & 0x0f) | 0x80 // version 8
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 4122 variant
	return u
}

// Send makes the canary request: a GET of the ConfigMap namespace/name through rc (a client of the core
// API group whose user agent is UserAgent) with the Audit-ID header id. The API server audits the GET
// whether the ConfigMap exists or not, so NotFound is success; any other failure is returned.
func Send(ctx context.Context, rc rest.Interface, namespace, name string, id uuid.UUID) error {
	err := rc.Get().Namespace(namespace).Resource("configmaps").Name(name).
		SetHeader("Audit-ID", id.String()).Do(ctx).Error()
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("canary request GET configmaps %s/%s: %w", namespace, name, err)
	}
	return nil
}

// Seen looks for the audit events of ids in database's events table, among those of cluster stored
// since from, and returns the ids found. One bounded query: a time range and a list of IDs.
func Seen(ctx context.Context, db *sql.DB, database, cluster string, from time.Time, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
	found := map[uuid.UUID]bool{}
	if len(ids) == 0 {
		return found, nil
	}
	list := make([]string, len(ids))
	for i, id := range ids {
		list[i] = id.String()
	}
	ctx = clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{
		"from": from.UTC().Format("2006-01-02 15:04:05.000000"), "cluster": cluster, "ids": arrayText(list)}))
	rows, err := db.QueryContext(ctx, `SELECT DISTINCT toString(audit_id) FROM `+database+`.events
		WHERE event_time >= {from:DateTime64(6, 'UTC')} AND cluster = {cluster:String} AND audit_id IN {ids:Array(UUID)}`)
	if err != nil {
		return nil, fmt.Errorf("look for the canaries in %s.events: %w", database, err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var text string
		if err := rows.Scan(&text); err != nil {
			return nil, err
		}
		if id, err := uuid.Parse(text); err == nil {
			found[id] = true
		}
	}
	return found, rows.Err()
}

// Freshness is how recent the stored events of a cluster are.
type Freshness struct {
	// Newest is the stage time of the newest event; zero when there is none.
	Newest time.Time
	// Recent is the number of events of the last 5 minutes.
	Recent uint64
}

// ReadFreshness reads the freshness of cluster's events in database at now, from the last hour's events
// only, so that the read stays bounded however large the table: Newest is zero when that hour has
// none (the caller keeps what it saw before).
func ReadFreshness(ctx context.Context, db *sql.DB, database, cluster string, now time.Time) (Freshness, error) {
	var f Freshness
	var n uint64
	ctx = clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{
		"now": now.UTC().Format("2006-01-02 15:04:05.000000"), "cluster": cluster}))
	err := db.QueryRowContext(ctx, `SELECT count(), max(event_time), countIf(event_time >= {now:DateTime64(6, 'UTC')} - INTERVAL 5 MINUTE)
		FROM `+database+`.events
		WHERE event_time >= {now:DateTime64(6, 'UTC')} - INTERVAL 1 HOUR AND cluster = {cluster:String}`).Scan(&n, &f.Newest, &f.Recent)
	if err != nil {
		return Freshness{}, fmt.Errorf("read the freshness of %s.events: %w", database, err)
	}
	if n == 0 {
		f.Newest = time.Time{}
	}
	f.Newest = f.Newest.UTC()
	return f, nil
}

// arrayText is a ClickHouse Array(UUID) parameter's text.
func arrayText(items []string) string {
	out := "["
	for i, s := range items {
		if i > 0 {
			out += ","
		}
		out += "'" + s + "'"
	}
	return out + "]"
}

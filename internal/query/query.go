package query

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Defaults and bounds of a list.
const (
	DefaultLimit  = 100
	MaxLimit      = 10000
	DefaultWindow = 24 * time.Hour
)

// Request is a list of audit events: those of the time range that match every filter given, newest first.
type Request struct {
	// Filter is the CEL filter (nil: none).
	Filter *Filter
	// Now is the value of the filter's `now` and the end of the default window.
	Now time.Time
	// From and To bound stageTimestamp (From inclusive, To inclusive); zero To is Now, zero From is To
	// minus DefaultWindow.
	From, To time.Time
	// Shortcut filters: exact values of user.username, verb, objectRef.resource, objectRef.name and
	// objectRef.namespace ("" for none).
	User, Verb, Resource, Name, Namespace string
	// Limit is the page size (DefaultLimit when 0, at most MaxLimit).
	Limit int
	// Continue is the token of the page before (Page.Continue); it carries the query's time range, so
	// the pages of one list share it whatever Now is.
	Continue string
	// Cluster, when set, is the only cluster whose events are listed (the cluster column).
	Cluster string
	// AuditID, when set, is the only audit ID listed (a UUID; the audit API's get by name).
	AuditID string
	// Tenant, when set, is the only tenant whose events are listed: tenant_type and tenant lead the tables'
	// sorting key, so a list of one tenant reads its granules only.
	Tenant *Tenant
	// Whole asks for each event whole (Event.JSON), which a table does not show: it reads rest, the
	// largest column, and puts each event back together (eventrow.Row.Event, docs/schema.md#whole-events).
	Whole bool
}

// Tenant is a value of the tables' tenant_type and tenant columns (docs/schema.md).
type Tenant struct {
	Type, Name string
}

// Event is one audit event of a page: the columns a list shows and the whole event.
type Event struct {
	Time                                             time.Time
	AuditID, Stage, Level, Verb, User                string
	APIGroup, Resource, Subresource, Namespace, Name string
	Code                                             uint16
	TenantType, Tenant, Cluster                      string
	// JSON is the whole audit event as stored (the same JSON value as the views' event, put together
	// by eventrow.Row.Event), when the request asked for it.
	JSON string
}

// Page is one page of a list.
type Page struct {
	Events []Event
	// Continue is the token of the next page; empty on the last one.
	Continue string
}

// identifier is what a database name may be (spec.clickhouse.database has the same rule).
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// eventColumns are the columns of Event, in its order, from the events or changes table: the columns
// themselves, which clickhouse-go scans into strings (a UUID as its canonical text, a LowCardinality(String)
// as its value); toString() around each cost the server about 1 ms a query, 2 for 1,000 events (docs/bench.md).
const eventColumns = `event_time, audit_id, stage, level, verb, user, api_group, resource, subresource, namespace, name,
	response_code, tenant_type, tenant, cluster, `

// columns are eventColumns with what puts the whole event back together (latency_us, user_uid and rest,
// for eventrow.Row.Event), or placeholders in their place. The reader rebuilds the event, not the server:
// the views' expression costs a query about 6 ms to analyse and 12 µs an event (docs/schema.md#whole-events).
func columns(whole bool) string {
	if whole {
		return eventColumns + "latency_us, user_uid, rest"
	}
	return eventColumns + "toUInt64(0), '', ''"
}

// pageKey orders a list and keys its paging: unique per stored event (the tables' sorting key), so that
// events sharing a timestamp are neither skipped nor repeated across pages. Copies of one event that
// ReplacingMergeTree has not merged yet share the key: they come next to each other, and the client keeps
// one (dedupe), which is cheaper for the server than LIMIT 1 BY (docs/bench.md).
const (
	pageKey   = "event_time, tenant_type, tenant, audit_id, stage"
	pageOrder = "event_time DESC, tenant_type DESC, tenant DESC, audit_id DESC, stage DESC"
)

// cursor is what a continue token holds: where the page before ended, the list's time range, and a
// digest of its filters, so that a token is only taken by the list it came from.
type cursor struct {
	Time       string `json:"t"`
	TenantType string `json:"tt"`
	Tenant     string `json:"tn"`
	AuditID    string `json:"id"`
	Stage      string `json:"st"`
	From       string `json:"f"`
	To         string `json:"to"`
	Digest     string `json:"d"`
}

// ErrBadContinue is wrapped by the error for a continue token that is malformed or from another list.
var ErrBadContinue = errors.New("invalid continue token")

// ErrInvalid is matched (errors.Is) by the errors of a request that cannot be asked: a time range that
// ends before it starts, a limit out of bounds; the caller's to fix, not the server's.
var ErrInvalid = errors.New("invalid request")

// invalidError is an ErrInvalid with its own message.
type invalidError struct{ msg string }

func (e invalidError) Error() string           { return e.msg }
func (invalidError) Is(target error) bool      { return target == ErrInvalid }
func invalid(format string, args ...any) error { return invalidError{fmt.Sprintf(format, args...)} }

// chTime is ClickHouse's text of a DateTime64(6, 'UTC') parameter.
const chTime = "2006-01-02 15:04:05.000000"

const timeType = "DateTime64(6, 'UTC')"

// window resolves the request's time range, from its continue token when it has one.
func (r *Request) window() (from, to time.Time, c *cursor, err error) {
	if r.Continue != "" {
		c, err = decodeCursor(r.Continue)
		if err != nil {
			return time.Time{}, time.Time{}, nil, err
		}
		if c.Digest != r.digest() {
			return time.Time{}, time.Time{}, nil, fmt.Errorf("%w: it belongs to a list with other filters or another scope; give it with that list's own filters", ErrBadContinue)
		}
		from, err1 := time.Parse(time.RFC3339Nano, c.From)
		to, err2 := time.Parse(time.RFC3339Nano, c.To)
		if err1 != nil || err2 != nil {
			return time.Time{}, time.Time{}, nil, fmt.Errorf("%w: bad time range", ErrBadContinue)
		}
		return from, to, c, nil
	}
	to = r.To
	if to.IsZero() {
		to = r.Now
	}
	from = r.From
	if from.IsZero() {
		from = to.Add(-DefaultWindow)
	}
	if from.After(to) {
		return time.Time{}, time.Time{}, nil, invalid("the time range ends (%s) before it starts (%s)", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	return from.UTC(), to.UTC(), nil, nil
}

// digest identifies the list's filters (not its page).
func (r *Request) digest() string {
	filter := ""
	if r.Filter != nil {
		filter = r.Filter.String()
	}
	tenant := "-"
	if r.Tenant != nil {
		tenant = r.Tenant.Type + "/" + r.Tenant.Name
	}
	h := sha256.Sum256([]byte(strings.Join([]string{filter, r.User, r.Verb, r.Resource, r.Name, r.Namespace, r.Cluster, tenant, r.AuditID}, "\x00")))
	return hex.EncodeToString(h[:8])
}

func decodeCursor(token string) (*cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64url", ErrBadContinue)
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadContinue, err)
	}
	if _, err := time.Parse(chTime, c.Time); err != nil {
		return nil, fmt.Errorf("%w: bad position", ErrBadContinue)
	}
	if _, err := uuid.Parse(c.AuditID); err != nil {
		return nil, fmt.Errorf("%w: bad position", ErrBadContinue)
	}
	return &c, nil
}

func (c *cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ListSQL is the statement of one page of r on database's events table, with its parameters. It asks for
// one event more than the page, which tells whether there is a next page.
func ListSQL(database string, r Request) (string, *Params, error) {
	if !identifier.MatchString(database) {
		return "", nil, fmt.Errorf("database %q is not a ClickHouse identifier", database)
	}
	limit, err := r.limit()
	if err != nil {
		return "", nil, err
	}
	from, to, c, err := r.window()
	if err != nil {
		return "", nil, err
	}
	p := &Params{}
	where := []string{
		"event_time >= " + p.Add(timeType, from.Format(chTime)),
		"event_time <= " + p.Add(timeType, to.Format(chTime)),
	}
	for _, s := range []struct{ column, value string }{
		{"user", r.User}, {"verb", r.Verb}, {"resource", r.Resource}, {"name", r.Name}, {"namespace", r.Namespace},
		{"cluster", r.Cluster},
	} {
		if s.value != "" {
			where = append(where, s.column+" = "+p.String(s.value))
		}
	}
	if r.Tenant != nil {
		where = append(where, "tenant_type = "+p.String(r.Tenant.Type), "tenant = "+p.String(r.Tenant.Name))
	}
	if r.AuditID != "" {
		id, err := uuid.Parse(r.AuditID)
		if err != nil {
			return "", nil, invalid("audit ID %q is not a UUID", r.AuditID)
		}
		where = append(where, "audit_id = "+p.Add("UUID", id.String()))
	}
	if r.Filter != nil {
		sql, err := r.Filter.SQL(p, r.Now)
		if err != nil {
			return "", nil, err
		}
		where = append(where, "("+sql+")")
	}
	if c != nil {
		where = append(where, fmt.Sprintf("(%s) < (%s, %s, %s, %s, %s)", pageKey,
			p.Add(timeType, c.Time), p.String(c.TenantType), p.String(c.Tenant),
			p.Add("UUID", c.AuditID), p.String(c.Stage)))
	}
	return fmt.Sprintf(`SELECT %s
FROM %s.events
WHERE %s
ORDER BY %s
LIMIT %d`, columns(r.Whole), database, strings.Join(where, "\n  AND "), pageOrder, limit+1), p, nil
}

func (r *Request) limit() (int, error) {
	switch {
	case r.Limit == 0:
		return DefaultLimit, nil
	case r.Limit < 0 || r.Limit > MaxLimit:
		return 0, invalid("--limit must be between 1 and %d, not %d", MaxLimit, r.Limit)
	}
	return r.Limit, nil
}

// page makes a Page of the rows a ListSQL statement returned (up to limit+1 of them).
func (r *Request) page(events []Event) (Page, error) {
	limit, err := r.limit()
	if err != nil {
		return Page{}, err
	}
	if len(events) <= limit {
		return Page{Events: dedupe(events)}, nil
	}
	events = events[:limit]
	last := events[len(events)-1]
	events = dedupe(events)
	from, to, _, err := r.window()
	if err != nil {
		return Page{}, err
	}
	c := cursor{Time: last.Time.UTC().Format(chTime), TenantType: last.TenantType, Tenant: last.Tenant,
		AuditID: last.AuditID, Stage: last.Stage, From: from.Format(time.RFC3339Nano), To: to.Format(time.RFC3339Nano),
		Digest: r.digest()}
	return Page{Events: events, Continue: c.encode()}, nil
}

// dedupe drops the copies of an event that ReplacingMergeTree has not merged yet: rows in pageKey order
// with the key of the row before. A page may so hold fewer events than its limit; the next page starts
// after the last row's key, so a copy is never shown twice.
func dedupe(events []Event) []Event {
	out := events[:0]
	for i, e := range events {
		if i > 0 {
			p := events[i-1]
			if e.Time.Equal(p.Time) && e.TenantType == p.TenantType && e.Tenant == p.Tenant && e.AuditID == p.AuditID && e.Stage == p.Stage {
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

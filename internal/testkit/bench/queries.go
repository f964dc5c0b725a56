package bench

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
)

// Params are the values the queries filter on, picked from the generated data so that they match rows.
type Params struct {
	// Now is the end of the time windows: the time of the last generated event.
	Now time.Time
	// TenantType and Tenant are the tenant (the tenant_type and tenant columns: the bench's Tenancy takes
	// them from the scope annotations).
	TenantType, Tenant string
	User               string
	// Resource, Namespace and Name are the tenant's most written object (Q2). In the generated data it is
	// a lease that the tenant's application renews all day: its writes lie close together among the
	// tenant's events, the kindest case for a table sorted by time.
	Resource  string
	Namespace string
	Name      string
	// PolicyResource, PolicyNamespace and PolicyName are the tenant's most written object among the
	// resources that the sample audit policy records (Q2b; docs/apiserver.md logs leases and Events at
	// level None): the history a user of that policy asks for, its writes spread thinly over the tenant's
	// months.
	PolicyResource  string
	PolicyNamespace string
	PolicyName      string
	// OpenTime and OpenID are the key of the newest event of User (the first row of Q1), which Q1O opens.
	OpenTime time.Time
	OpenID   uuid.UUID
}

// unrecorded are the resources the sample audit policy (docs/apiserver.md) logs at level None.
var unrecorded = map[string]bool{"leases": true, "events": true}

// Query is one benchmark query with its latency target.
type Query struct {
	ID    string
	Title string
	// Target is the latency target; 0 for a query it sets none for.
	Target time.Duration
	SQL    string
	// Match and Less give the expected answer in Go: which events the query returns and in which order;
	// Limit caps it (0: no cap). Q4 aggregates instead, see Q4Counts.
	Match func(p Params, r *Row) bool
	Less  func(a, b *Row) int
	Limit int
	// List: the query returns listColumns, not the whole event.
	List bool
}

// rowColumns are what the row queries return: every stored column, which together are the whole event
// (the table's event column joins them into the event's JSON, at a cost of its own: docs/schema.md).
var rowColumns = eventrow.ColumnNames()

// listColumns are what a list of events shows (docs/schema.md's example): who did what, to which
// object, when, with what result, and the audit ID to open the whole event by.
const listColumns = "event_time, audit_id, user, verb, resource, name, response_code"

// asList is q returning listColumns instead of whole events.
func asList(q Query) Query {
	q.ID, q.Title, q.List = q.ID+"L", q.Title+", as a list", true
	q.SQL = strings.Replace(q.SQL, "SELECT "+rowColumns+" ", "SELECT "+listColumns+" ", 1)
	return q
}

func newestFirst(a, b *Row) int { return b.EventTime.Compare(a.EventTime) }
func oldestFirst(a, b *Row) int { return a.EventTime.Compare(b.EventTime) }

// tenantFilter is the condition every query but Q4 puts first: the tenant, which leads both tables'
// sorting keys.
const tenantFilter = `tenant_type = {tenant_type:String} AND tenant = {tenant:String}`

// inTenant is tenantFilter in Go.
func inTenant(p Params, r *Row) bool { return r.TenantType == p.TenantType && r.Tenant == p.Tenant }

func within(r *Row, now time.Time, d time.Duration) bool {
	return !r.EventTime.Before(now.Add(-d)) && !r.EventTime.After(now)
}

// q1 and q3 return whole events; the list of Queries asks them as lists too (asList).
var (
	q1 = Query{
		ID: "Q1", Title: "tenant + user, last 7 days, newest 100", Target: 10 * time.Millisecond, Limit: 100,
		SQL: `SELECT ` + rowColumns + ` FROM {db:Identifier}.events
			WHERE ` + tenantFilter + ` AND user = {user:String}
			  AND event_time >= {now:DateTime64(6, 'UTC')} - INTERVAL 7 DAY AND event_time <= {now:DateTime64(6, 'UTC')}
			ORDER BY event_time DESC LIMIT 100`,
		Match: func(p Params, r *Row) bool {
			return inTenant(p, r) && r.User == p.User && within(r, p.Now, 7*24*time.Hour)
		},
		Less: newestFirst,
	}
	q3 = Query{
		ID: "Q3", Title: "tenant, last hour, newest 100", Target: 10 * time.Millisecond, Limit: 100,
		SQL: `SELECT ` + rowColumns + ` FROM {db:Identifier}.events
			WHERE ` + tenantFilter + `
			  AND event_time >= {now:DateTime64(6, 'UTC')} - INTERVAL 1 HOUR AND event_time <= {now:DateTime64(6, 'UTC')}
			ORDER BY event_time DESC LIMIT 100`,
		Match: func(p Params, r *Row) bool { return inTenant(p, r) && within(r, p.Now, time.Hour) },
		Less:  newestFirst,
	}
)

// q1Open opens one event of Q1's list whole, as a person does after reading the list: by the key the
// list shows (the tenant, the event's time and its audit ID), which leads to one granule of the table.
var q1Open = Query{
	ID: "Q1O", Title: "Q1's newest event, opened whole by its key",
	SQL: `SELECT ` + rowColumns + ` FROM {db:Identifier}.events
		WHERE ` + tenantFilter + ` AND event_time = {open_time:DateTime64(6, 'UTC')} AND audit_id = {open_id:UUID}`,
	Match: func(p Params, r *Row) bool {
		return inTenant(p, r) && r.EventTime.Equal(p.OpenTime) && r.AuditID == p.OpenID
	},
	Less: newestFirst,
}

// Queries are the five queries of issue 7 with their targets; Q2, a resource's history, is asked of
// two objects (Params), Q1 and Q3 are asked a second time for a list's columns (Q1L, Q3L:
// listColumns), which is what a person scanning events reads, and Q1O opens one event of that list
// (no target of the issue's).
var Queries = []Query{
	q1,
	asList(q1),
	q1Open,
	objectHistory("Q2", "tenant + resource/namespace/name, writes, all time, oldest first", "",
		func(p Params) (string, string, string) { return p.Resource, p.Namespace, p.Name }),
	objectHistory("Q2b", "Q2 for an object the sample policy records", "policy_",
		func(p Params) (string, string, string) { return p.PolicyResource, p.PolicyNamespace, p.PolicyName }),
	q3,
	asList(q3),
	{
		ID: "Q4", Title: "all tenants, count by verb, last 24 h", Target: 10 * time.Millisecond,
		SQL: `SELECT verb, count() FROM {db:Identifier}.events
			WHERE event_time >= {now:DateTime64(6, 'UTC')} - INTERVAL 1 DAY AND event_time <= {now:DateTime64(6, 'UTC')}
			GROUP BY verb ORDER BY verb`,
		Match: func(p Params, r *Row) bool { return within(r, p.Now, 24*time.Hour) },
	},
	{
		ID: "Q5", Title: "tenant, status >= 400 on writes, last 30 days", Target: 20 * time.Millisecond, Limit: 100,
		SQL: `SELECT ` + rowColumns + ` FROM {db:Identifier}.events
			WHERE ` + tenantFilter + ` AND response_code >= 400
			  AND verb IN ('create', 'update', 'patch', 'delete')
			  AND event_time >= {now:DateTime64(6, 'UTC')} - INTERVAL 30 DAY AND event_time <= {now:DateTime64(6, 'UTC')}
			ORDER BY event_time DESC LIMIT 100`,
		Match: func(p Params, r *Row) bool {
			return inTenant(p, r) && r.ResponseCode >= 400 && isWrite(r.Verb) && within(r, p.Now, 30*24*time.Hour)
		},
		Less: newestFirst,
	},
}

// objectHistory is Q2, a resource's history, for the object (resource, namespace, name) that object
// picks from the parameters, which the SQL names {resource:String}, {namespace:String} and
// {name:String} with prefix before each. It filters on the changes table's sorting key in its order
// (the tenant, then the object), and needs no filter on the verb, since changes holds the writes
// (docs/schema.md): the only one there besides create, update, patch and delete, deletecollection,
// names no object.
func objectHistory(id, title, prefix string, object func(Params) (string, string, string)) Query {
	return Query{
		ID: id, Title: title, Target: 20 * time.Millisecond, Limit: 1000,
		SQL: `SELECT ` + rowColumns + ` FROM {db:Identifier}.changes
			WHERE ` + tenantFilter + ` AND resource = {` + prefix + `resource:String}
			  AND namespace = {` + prefix + `namespace:String} AND name = {` + prefix + `name:String}
			ORDER BY event_time ASC LIMIT 1000`,
		Match: func(p Params, r *Row) bool {
			res, ns, n := object(p)
			return inTenant(p, r) && r.Resource == res && r.Namespace == ns && r.Name == n && isWrite(r.Verb)
		},
		Less: oldestFirst,
	}
}

func (p Params) parameters(database string) clickhouse.Parameters {
	return clickhouse.Parameters{
		"db": database, "now": p.Now.UTC().Format("2006-01-02 15:04:05.000000"),
		"tenant_type": p.TenantType, "tenant": p.Tenant, "user": p.User,
		"resource": p.Resource, "namespace": p.Namespace, "name": p.Name,
		"policy_resource": p.PolicyResource, "policy_namespace": p.PolicyNamespace, "policy_name": p.PolicyName,
		"open_time": p.OpenTime.UTC().Format("2006-01-02 15:04:05.000000"), "open_id": p.OpenID.String(),
	}
}

// Expected is a query's answer computed in Go from the rows: the audit IDs in order, or for Q4 the
// count per verb.
func (q Query) Expected(p Params, rows []Row) (ids []uuid.UUID, counts map[string]uint64) {
	var hits []*Row
	for i := range rows {
		if q.Match(p, &rows[i]) {
			hits = append(hits, &rows[i])
		}
	}
	if q.Less == nil {
		counts = map[string]uint64{}
		for _, r := range hits {
			counts[r.Verb]++
		}
		return nil, counts
	}
	slices.SortStableFunc(hits, q.Less)
	if q.Limit > 0 && len(hits) > q.Limit {
		hits = hits[:q.Limit]
	}
	for _, r := range hits {
		ids = append(ids, r.AuditID)
	}
	return ids, nil
}

// Answer runs q once and returns what it returned, like Expected.
// When progress is not nil, it adds up the rows read that the server reports as the query runs.
func (q Query) Answer(ctx context.Context, conn driver.Conn, database string, p Params, queryID string, progress *uint64) (ids []uuid.UUID, counts map[string]uint64, err error) {
	return q.answer(ctx, conn, database, p, queryID, progress, nil)
}

func (q Query) answer(ctx context.Context, conn driver.Conn, database string, p Params, queryID string, progress *uint64, settings clickhouse.Settings) (ids []uuid.UUID, counts map[string]uint64, err error) {
	opts := []clickhouse.QueryOption{clickhouse.WithParameters(p.parameters(database))}
	if len(settings) > 0 {
		opts = append(opts, clickhouse.WithSettings(settings))
	}
	if queryID != "" {
		opts = append(opts, clickhouse.WithQueryID(queryID))
	}
	if progress != nil {
		opts = append(opts, clickhouse.WithProgress(func(pr *clickhouse.Progress) { *progress += pr.Rows }))
	}
	rows, err := conn.Query(clickhouse.Context(ctx, opts...), q.SQL)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", q.ID, err)
	}
	defer rows.Close()
	if q.Less == nil {
		counts = map[string]uint64{}
	}
	// Every row is scanned into r, which holds the last one.
	var r eventrow.Row
	fields := r.Fields()
	if q.List {
		if fields, err = r.FieldsOf(strings.Split(listColumns, ", ")); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", q.ID, err)
		}
	}
	for rows.Next() {
		if counts != nil {
			var verb string
			var n uint64
			if err := rows.Scan(&verb, &n); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", q.ID, err)
			}
			counts[verb] = n
			continue
		}
		if err := rows.Scan(fields...); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", q.ID, err)
		}
		ids = append(ids, r.AuditID)
	}
	return ids, counts, rows.Err()
}

// Result is a query's measurement.
type Result struct {
	Query    Query
	Runs     int
	Median   time.Duration
	ReadRows uint64 // median over the runs, from system.query_log
	// ReadBytes (median, uncompressed) and ServerMedian (query_duration_ms) come from system.query_log
	// only: zero without it.
	ReadBytes    uint64
	ServerMedian time.Duration
	Returned     int // rows (or groups, Q4) returned
	// Floor is the median of the same query in the floor database (BuildFloor): its cost with nothing
	// to search, which no key or index takes away. Zero when not measured.
	Floor time.Duration
}

// QueryLogConfig is server configuration (chtest.Options.ConfigXML) that turns on system.query_log,
// which the test server lacks by default.
const QueryLogConfig = `<clickhouse><query_log><database>system</database><table>query_log</table>
<flush_interval_milliseconds>1000</flush_interval_milliseconds></query_log></clickhouse>`

// ReferenceSQL is a query that reads no table: its time measures the machine, not the schema. Measure
// runs it in every round with the others; a run whose reference is slower ran on a slower machine.
const ReferenceSQL = `SELECT count() FROM numbers(2000000) WHERE cityHash64(number) % 7 = 0 SETTINGS max_threads = 1`

// Measure runs each query runs times, and reads the rows read from system.query_log when the server
// has one (else from the progress the server reports to the client). settings, if any, apply to
// every query. The queries take turns, a round of each at a time after one round that is not counted
// (it loads the marks and indexes the first run of each query would), so that a slower spell of the
// machine falls on all of them rather than on whichever query ran in it. reference is the median time
// of ReferenceSQL, run in every round too. When floor is not empty, each run of a query is followed by
// one in floor (BuildFloor), which must give the same answer, for Result.Floor.
func Measure(ctx context.Context, conn driver.Conn, database, floor string, p Params, runs int, settings clickhouse.Settings) (results []Result, reference time.Duration, err error) {
	if runs < 1 {
		return nil, 0, fmt.Errorf("runs = %d: each query must run at least once", runs)
	}
	results = make([]Result, len(Queries))
	times := make([][]time.Duration, len(Queries))
	floorTimes := make([][]time.Duration, len(Queries))
	reads := make([][]uint64, len(Queries))
	var references []time.Duration
	prefix := fmt.Sprintf("bench-%d-", time.Now().UnixNano())
	for round := -1; round < runs; round++ {
		for i, q := range Queries {
			id := prefix + "warmup-" + q.ID
			if round >= 0 {
				id = prefix + q.ID + "-" + strconv.Itoa(round)
			}
			var read uint64
			start := time.Now()
			ids, counts, err := q.answer(ctx, conn, database, p, id, &read, settings)
			if err != nil {
				return nil, 0, err
			}
			elapsed := time.Since(start)
			var floorElapsed time.Duration
			if floor != "" {
				start = time.Now()
				floorIDs, _, err := q.answer(ctx, conn, floor, p, "", nil, settings)
				if err != nil {
					return nil, 0, fmt.Errorf("in %s: %w", floor, err)
				}
				floorElapsed = time.Since(start)
				if !slices.Equal(ids, floorIDs) {
					return nil, 0, fmt.Errorf("%s: %d events from %s, %d from %s, not the same: the floor lacks a row of the answer",
						q.ID, len(ids), database, len(floorIDs), floor)
				}
			}
			if round < 0 {
				continue
			}
			times[i] = append(times[i], elapsed)
			floorTimes[i] = append(floorTimes[i], floorElapsed)
			reads[i] = append(reads[i], read)
			results[i].Returned = len(ids) + len(counts)
		}
		start := time.Now()
		var n uint64
		if err := conn.QueryRow(ctx, ReferenceSQL).Scan(&n); err != nil {
			return nil, 0, fmt.Errorf("reference query: %w", err)
		}
		if round >= 0 {
			references = append(references, time.Since(start))
		}
	}
	for i, q := range Queries {
		slices.Sort(times[i])
		slices.Sort(reads[i])
		results[i].Query, results[i].Runs = q, runs
		results[i].Median = times[i][len(times[i])/2]
		results[i].ReadRows = reads[i][len(reads[i])/2]
		if floor != "" {
			slices.Sort(floorTimes[i])
			results[i].Floor = floorTimes[i][len(floorTimes[i])/2]
		}
	}
	slices.Sort(references)
	reference = references[len(references)/2]
	var queryLog uint64
	if err := conn.QueryRow(ctx, `SELECT count() FROM system.tables WHERE database = 'system' AND name = 'query_log'`).Scan(&queryLog); err != nil {
		return nil, 0, err
	}
	if err := conn.Exec(ctx, "SYSTEM FLUSH LOGS"); err != nil {
		return nil, 0, fmt.Errorf("flush logs: %w", err)
	}
	for i := range results {
		if queryLog == 0 {
			break
		}
		var reads, bytes, durations []uint64
		rows, err := conn.Query(withParams(ctx, clickhouse.Parameters{"prefix": prefix + results[i].Query.ID + "-"}),
			`SELECT read_rows, read_bytes, query_duration_ms FROM system.query_log
			WHERE type = 'QueryFinish' AND startsWith(query_id, {prefix:String})`)
		if err != nil {
			return nil, 0, fmt.Errorf("read system.query_log: %w", err)
		}
		for rows.Next() {
			var n, b, d uint64
			if err := rows.Scan(&n, &b, &d); err != nil {
				rows.Close()
				return nil, 0, err
			}
			reads, bytes, durations = append(reads, n), append(bytes, b), append(durations, d)
		}
		rows.Close()
		if len(reads) > 0 {
			results[i].ReadRows = median(reads)
			results[i].ReadBytes = median(bytes)
			results[i].ServerMedian = time.Duration(median(durations)) * time.Millisecond
		}
	}
	return results, reference, nil
}

// Tracker picks the query parameters from the generated rows as they pass by.
type Tracker struct {
	last    time.Time
	tenants map[tenantKey]int
	users   map[userKey]int
	newest  map[userKey]eventKey
	objects map[objectKey]int
}

// tenantKey is a tenant: its tenant_type and tenant.
type tenantKey struct{ typ, name string }

// userKey is a user of a tenant.
type userKey struct {
	tenant tenantKey
	user   string
}

// objectKey is an object of a tenant.
type objectKey struct {
	tenant                    tenantKey
	resource, namespace, name string
}

// eventKey is what opens one event: its time and audit ID (with the tenant).
type eventKey struct {
	at time.Time
	id uuid.UUID
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker {
	return &Tracker{tenants: map[tenantKey]int{}, users: map[userKey]int{}, newest: map[userKey]eventKey{},
		objects: map[objectKey]int{}}
}

// Add counts a row.
func (t *Tracker) Add(r *Row) {
	if r.EventTime.After(t.last) {
		t.last = r.EventTime
	}
	tenant := tenantKey{r.TenantType, r.Tenant}
	t.tenants[tenant]++
	user := userKey{tenant, r.User}
	t.users[user]++
	// The first of equal times, as Q1's stable sort of the rows in their order puts it first.
	if n, ok := t.newest[user]; !ok || r.EventTime.After(n.at) {
		t.newest[user] = eventKey{r.EventTime, r.AuditID}
	}
	// Objects with a name only: a review (a LocalSubjectAccessReview) has none, and no history.
	if isWrite(r.Verb) && r.Name != "" {
		t.objects[objectKey{tenant, r.Resource, r.Namespace, r.Name}]++
	}
}

// Params picks the busiest tenant (its type and name), its busiest user, its most written object and
// its most written object that the sample audit policy records.
func (t *Tracker) Params() Params {
	p := Params{Now: t.last}
	tenant := maxKey(t.tenants, func(tenantKey) bool { return true })
	p.TenantType, p.Tenant = tenant.typ, tenant.name
	p.User = maxKey(t.users, func(k userKey) bool { return k.tenant == tenant }).user
	n := t.newest[userKey{tenant, p.User}]
	p.OpenTime, p.OpenID = n.at, n.id
	o := maxKey(t.objects, func(k objectKey) bool { return k.tenant == tenant })
	p.Resource, p.Namespace, p.Name = o.resource, o.namespace, o.name
	o = maxKey(t.objects, func(k objectKey) bool { return k.tenant == tenant && !unrecorded[k.resource] })
	p.PolicyResource, p.PolicyNamespace, p.PolicyName = o.resource, o.namespace, o.name
	return p
}

// maxKey is the key with the highest count among those keep accepts, the least key on a tie.
func maxKey[K comparable](m map[K]int, keep func(K) bool) K {
	keys := make([]K, 0, len(m))
	for k := range m {
		if keep(k) {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j])
	})
	var zero K
	if len(keys) == 0 {
		return zero
	}
	return keys[0]
}

func median(xs []uint64) uint64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}

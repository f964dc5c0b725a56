package retention

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// EventTimeColumn is the TTL expression of the events table's time: its event_time column as DateTime.
const EventTimeColumn = "toDateTime(event_time)"

// Table names a live table whose TTL is reconciled.
type Table struct {
	Database string
	Name     string
	// OnCluster, when set, runs the ALTER on every node of this cluster (not for a Replicated
	// database, which replicates the ALTER itself).
	OnCluster string
}

// TTLResult says what ReconcileTTL found and did.
type TTLResult struct {
	// InForce is the table's TTL after the call, as ClickHouse formats it; empty for none.
	InForce string
	// Changed is true when the TTL was modified or removed.
	Changed bool
	// Materialized is true when existing parts were rewritten because a rule got shorter or new.
	Materialized bool
}

// ReconcileTTL makes the table's TTL equal desired (as rendered by TTL; empty removes it). It reads the
// TTL in force first and changes nothing when it already equals desired in ClickHouse's own formatting.
// Existing data is re-evaluated (MATERIALIZE) only when a rule gets shorter or appears, since that is
// when rows already stored must move or go; a longer rule applies to new parts and merges without
// rewriting the table.
func ReconcileTTL(ctx context.Context, db *sql.DB, t Table, desired string) (TTLResult, error) {
	current, want, err := compareTTL(ctx, db, t, desired)
	if err != nil {
		return TTLResult{}, err
	}
	if current == want {
		return TTLResult{InForce: current}, nil
	}
	target := fmt.Sprintf("%s.%s", t.Database, t.Name)
	if t.OnCluster != "" {
		target += " ON CLUSTER " + t.OnCluster
	}
	if want == "" {
		if _, err := db.ExecContext(ctx, "ALTER TABLE "+target+" REMOVE TTL"); err != nil {
			return TTLResult{}, fmt.Errorf("remove TTL of %s.%s: %w", t.Database, t.Name, err)
		}
		return TTLResult{Changed: true}, nil
	}
	materialize := Shortens(current, want)
	stmt := fmt.Sprintf("ALTER TABLE %s MODIFY TTL %s SETTINGS materialize_ttl_after_modify = %d", target, desired, boolInt(materialize))
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		return TTLResult{}, fmt.Errorf("modify TTL of %s.%s: %w", t.Database, t.Name, err)
	}
	return TTLResult{InForce: want, Changed: true, Materialized: materialize}, nil
}

// CompareTTL reads the table's TTL in force, as ClickHouse formats it (empty for none), and says
// whether it equals desired, as ReconcileTTL judges it. It changes nothing.
func CompareTTL(ctx context.Context, db *sql.DB, t Table, desired string) (inForce string, equal bool, err error) {
	current, want, err := compareTTL(ctx, db, t, desired)
	return current, current == want, err
}

// compareTTL returns the TTL in force and desired, both in ClickHouse's formatting.
func compareTTL(ctx context.Context, db *sql.DB, t Table, desired string) (current, want string, err error) {
	if current, err = liveTTL(ctx, db, t); err != nil {
		return "", "", err
	}
	if desired != "" {
		if want, err = canonicalTTL(ctx, db, desired); err != nil {
			return "", "", err
		}
	}
	return current, want, nil
}

func liveTTL(ctx context.Context, db *sql.DB, t Table) (string, error) {
	var engineFull string
	err := db.QueryRowContext(ctx, "SELECT engine_full FROM system.tables WHERE database = ? AND name = ?",
		t.Database, t.Name).Scan(&engineFull)
	if err != nil {
		return "", fmt.Errorf("read the TTL of %s.%s: %w", t.Database, t.Name, err)
	}
	return TTLOfEngine(engineFull), nil
}

// canonicalTTL asks the server how it formats a TTL, so that the comparison with the TTL in force does
// not depend on spacing, the default DELETE, or the server version's formatting.
func canonicalTTL(ctx context.Context, db *sql.DB, ttl string) (string, error) {
	var formatted string
	if err := db.QueryRowContext(ctx, "SELECT formatQuerySingleLine(?)", "ALTER TABLE t MODIFY TTL "+ttl).Scan(&formatted); err != nil {
		return "", fmt.Errorf("format TTL %q: %w", ttl, err)
	}
	return TTLOfFormattedAlter(formatted)
}

// TTLOfEngine extracts the TTL clause from system.tables.engine_full; empty when there is none. A
// tenant's name in a rule's WHERE may hold " SETTINGS ": only the keyword outside string literals ends it.
func TTLOfEngine(engineFull string) string {
	_, after, found := cutTopLevel(engineFull, " TTL ")
	if !found {
		return ""
	}
	ttl, _, _ := cutTopLevel(after, " SETTINGS ")
	return strings.TrimSpace(ttl)
}

// TTLOfFormattedAlter extracts the TTL from formatQuerySingleLine('ALTER TABLE t MODIFY TTL ...').
func TTLOfFormattedAlter(formatted string) (string, error) {
	_, after, found := strings.Cut(formatted, "MODIFY TTL ")
	if !found {
		return "", fmt.Errorf("unexpected formatting of a TTL: %q", formatted)
	}
	return strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(after), ")")), nil
}

// ttlAge is a rule's age when it is one interval after the event's time.
var ttlAge = regexp.MustCompile(`\+ toInterval(Day|Hour|Minute|Second)\((\d+)\)$`)

// rule is one rule of a formatted TTL.
type rule struct {
	// key says what the rule does to which rows: "delete", "volume:<name>" or "recompress:CODEC(...)", and
	// its WHERE condition.
	key string
	// age is when the rule applies; 0 when it is not one interval (a move whose age depends on the
	// tenant: a multiIf).
	age time.Duration
	// text is the rule as formatted.
	text string
}

// rules splits a TTL as ClickHouse formats it into its rules, by key.
func rules(ttl string) map[string]rule {
	unit := map[string]time.Duration{"Day": 24 * time.Hour, "Hour": time.Hour, "Minute": time.Minute, "Second": time.Second}
	out := map[string]rule{}
	for _, text := range splitTopLevel(ttl, ", ") {
		expr, where, _ := cutTopLevel(text, " WHERE ")
		action := "delete"
		if e, codec, ok := cutTopLevel(expr, " RECOMPRESS "); ok {
			expr, action = e, "recompress:"+codec
		} else if e, volume, ok := cutTopLevel(expr, " TO VOLUME "); ok {
			expr, action = e, "volume:"+strings.Trim(volume, "'")
		} else if e, ok := strings.CutSuffix(expr, " DELETE"); ok {
			expr = e
		}
		r := rule{key: action + " where " + where, text: text}
		if m := ttlAge.FindStringSubmatch(expr); m != nil {
			n, _ := strconv.ParseInt(m[2], 10, 64)
			r.age = time.Duration(n) * unit[m[1]]
		}
		out[r.key] = r
	}
	return out
}

// splitTopLevel splits s at every sep outside parentheses and string literals.
func splitTopLevel(s, sep string) []string {
	var out []string
	for s != "" {
		before, after, found := cutTopLevel(s, sep)
		out = append(out, before)
		if !found {
			break
		}
		s = after
	}
	return out
}

// cutTopLevel cuts s around the first sep outside parentheses and string literals ('...', with \
// escapes, as ClickHouse formats them).
func cutTopLevel(s, sep string) (before, after string, found bool) {
	depth, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '\'':
			quoted = !quoted
		case quoted:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case depth == 0 && strings.HasPrefix(s[i:], sep):
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

// Shortens reports whether going from the TTL current to desired makes any rule apply sooner: a rule
// that is new (a new action, or the same on other rows: a tenant's override added or removed changes
// the default's WHERE), or whose age is smaller; a rule whose age is not one interval counts as shorter
// whenever its text changes. Stored rows must then be re-evaluated. A recompression rule never counts:
// merges apply it as they rewrite parts, where materializing it would rewrite every part at once.
func Shortens(current, desired string) bool {
	before := rules(current)
	for key, r := range rules(desired) {
		was, ok := before[key]
		switch {
		case strings.HasPrefix(key, "recompress:"):
		case !ok:
			return true
		case r.age == 0 || was.age == 0:
			if r.text != was.text {
				return true
			}
		case r.age < was.age:
			return true
		}
	}
	return false
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

package tiering

import (
	"fmt"
	"strings"
	"time"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

// MergeCodec is what merges compress the audit tables' columns without a codec of their own (rest) with:
// inserts write ZSTD(1), the tables' default, and every merge of stored events rewrites them at this
// level, which stores rest in about a quarter fewer bytes (docs/schema.md, "Compression").
const MergeCodec = "ZSTD(6)"

// Recompress is the TTL rule that has merges compress with MergeCodec: every part whose events all lie
// in the past (timeColumn <= now), which is every part but one holding an event from the future.
func Recompress(timeColumn string) string {
	return timeColumn + " RECOMPRESS CODEC(" + MergeCodec + ")"
}

// TTL renders the TTL clause of a table whose event time is the column timeColumn: the recompression in
// merges (Recompress), always; then the move to the cold volume after storage.cold.moveAfter and the
// deletion after retention.deleteAfter, in that order, when they are set.
//
// retention.tenants override the deletion for single tenants (the tenant_type and tenant columns): a
// DELETE rule with a WHERE condition per override, and the default's DELETE for every other tenant.
// DELETE applies row by row; a move applies to whole parts, which mix tenants, so it has no override.
func TTL(ch *v1alpha1.ClickHouseSpec, timeColumn string) string {
	var tenants []v1alpha1.TenantRetention
	var deleteAfter time.Duration
	if r := ch.Retention; r != nil {
		tenants = r.Tenants
		if r.DeleteAfter != nil {
			deleteAfter = r.DeleteAfter.Duration
		}
	}
	parts := []string{Recompress(timeColumn)}
	if cold := coldSpec(ch); cold != nil && cold.MoveAfter.Duration > 0 {
		parts = append(parts, fmt.Sprintf("%s + %s TO VOLUME '%s'", timeColumn, Interval(cold.MoveAfter.Duration), ColdVolume))
	}
	if deleteAfter > 0 {
		rule := fmt.Sprintf("%s + %s DELETE", timeColumn, Interval(deleteAfter))
		if len(tenants) > 0 {
			conds := make([]string, len(tenants))
			for i, t := range tenants {
				conds[i] = tenantCondition(t)
			}
			rule += " WHERE NOT (" + strings.Join(conds, " OR ") + ")"
		}
		parts = append(parts, rule)
	}
	for _, t := range tenants {
		parts = append(parts, fmt.Sprintf("%s + %s DELETE WHERE %s", timeColumn, Interval(t.DeleteAfter.Duration), tenantCondition(t)))
	}
	return strings.Join(parts, ", ")
}

// tenantCondition selects the rows of one tenant override.
func tenantCondition(t v1alpha1.TenantRetention) string {
	if t.TenantType != "" {
		return fmt.Sprintf("(tenant_type = %s) AND (tenant = %s)", quote(t.TenantType), quote(t.Tenant))
	}
	return fmt.Sprintf("tenant = %s", quote(t.Tenant))
}

// quote is a ClickHouse string literal (the CRD keeps control characters out of tenants).
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// Interval renders d as a ClickHouse interval in the largest whole unit: days, hours, minutes or seconds.
func Interval(d time.Duration) string {
	fn, unit := intervalUnit(d)
	return fmt.Sprintf("%s(%d)", fn, d/unit)
}

// intervalUnit is the largest unit in which every one of ds is whole, with its interval function.
func intervalUnit(ds ...time.Duration) (string, time.Duration) {
	for _, u := range []struct {
		fn   string
		unit time.Duration
	}{{"toIntervalDay", 24 * time.Hour}, {"toIntervalHour", time.Hour}, {"toIntervalMinute", time.Minute}} {
		whole := true
		for _, d := range ds {
			whole = whole && d%u.unit == 0
		}
		if whole {
			return u.fn, u.unit
		}
	}
	return "toIntervalSecond", time.Second
}

package tiering

import (
	"fmt"
	"strings"
	"time"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

// TTL renders the TTL clause of a table whose event time is the column timeColumn: the move to the cold
// volume after storage.cold.moveAfter and the deletion after retention.deleteAfter, in that order. It is
// empty when neither is set.
func TTL(ch *v1alpha1.ClickHouseSpec, timeColumn string) string {
	var parts []string
	if cold := coldSpec(ch); cold != nil && cold.MoveAfter.Duration > 0 {
		parts = append(parts, fmt.Sprintf("%s + %s TO VOLUME '%s'", timeColumn, Interval(cold.MoveAfter.Duration), ColdVolume))
	}
	if ch.Retention != nil && ch.Retention.DeleteAfter != nil && ch.Retention.DeleteAfter.Duration > 0 {
		parts = append(parts, fmt.Sprintf("%s + %s DELETE", timeColumn, Interval(ch.Retention.DeleteAfter.Duration)))
	}
	return strings.Join(parts, ", ")
}

// Interval renders d as a ClickHouse interval in the largest whole unit: days, hours, minutes or seconds.
func Interval(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("toIntervalDay(%d)", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("toIntervalHour(%d)", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("toIntervalMinute(%d)", d/time.Minute)
	default:
		return fmt.Sprintf("toIntervalSecond(%d)", d/time.Second)
	}
}

package canary

import (
	"testing"

	"github.com/google/uuid"
)

// TestID: a canary's audit ID is a valid UUID (version 8, RFC 4122 variant) that the row contract keeps in
// audit_id, the same for the same pipeline and sequence, different for another of either, with the
// sequence readable in its second half.
func TestID(t *testing.T) {
	a, b, c := ID("uid-a", 1), ID("uid-a", 2), ID("uid-b", 1)
	if a != ID("uid-a", 1) || a == b || a == c {
		t.Errorf("IDs %s %s %s: not stable per pipeline and sequence", a, b, c)
	}
	for _, id := range []uuid.UUID{a, b, c, ID("x", 1<<40)} {
		if id.Version() != 8 || id.Variant() != uuid.RFC4122 {
			t.Errorf("%s: version %d, variant %v", id, id.Version(), id.Variant())
		}
		if _, err := uuid.Parse(id.String()); err != nil {
			t.Error(err)
		}
	}
	if got := ID("x", 42); got[15] != 42 {
		t.Errorf("%s does not end in the sequence 42", got)
	}
	if got := arrayText([]string{"a", "b"}); got != "['a','b']" {
		t.Errorf("arrayText = %s", got)
	}
}

package query

import (
	"context"
	"testing"
	"time"
)

// recorder is a Lister that answers nothing and keeps the ranges asked.
type recorder struct{ from []time.Time }

func (r *recorder) List(_ context.Context, q Request) (Page, error) {
	r.from = append(r.from, q.From)
	return Page{}, nil
}

// TestFollowWindowFollowsTheClock: on a quiet filter each round asks from lookBack before it (never
// before the start), so the range does not grow and never reaches before --since.
func TestFollowWindowFollowsTheClock(t *testing.T) {
	var rec recorder
	begin := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := Follow(ctx, &rec, Request{}, 10*time.Millisecond, 20*time.Millisecond, func(Event) error { return nil }, func(string) {}); err != nil {
		t.Fatal(err)
	}
	if len(rec.from) < 5 {
		t.Fatalf("%d rounds in 300 ms at 20 ms", len(rec.from))
	}
	for i, f := range rec.from {
		if f.Before(begin.Add(-10*time.Millisecond)) || (i > 0 && f.Before(rec.from[i-1])) {
			t.Fatalf("round %d asks from %s: before the start (%s) or before the round before (%v)", i, f, begin.Add(-10*time.Millisecond), rec.from)
		}
	}
	// since larger than the look-back: the window starts at now - 30 s after the first round.
	rec = recorder{}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	now := time.Now()
	if err := Follow(ctx2, &rec, Request{}, time.Hour, 20*time.Millisecond, func(Event) error { return nil }, func(string) {}); err != nil {
		t.Fatal(err)
	}
	last := rec.from[len(rec.from)-1]
	if d := now.Sub(last); d < 29*time.Second || d > 31*time.Second {
		t.Errorf("after the first round a quiet follow asks from %s before now, want the 30 s look-back", d)
	}
}

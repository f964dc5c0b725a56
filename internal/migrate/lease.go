package migrate

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// lease is a held schema lock. Its context is cancelled, with the reason as cause, when the lock is
// lost or could not be renewed in time, so that a running statement stops too.
type lease struct {
	lock   *schemaLock
	epoch  uint64
	token  string
	ctx    context.Context
	cancel context.CancelCauseFunc
	stop   chan struct{}
	done   chan struct{}
}

// hold starts renewing the claim of epoch in the background.
func (l *schemaLock) hold(parent context.Context, epoch uint64, token string) *lease {
	ctx, cancel := context.WithCancelCause(parent)
	ls := &lease{lock: l, epoch: epoch, token: token, ctx: ctx, cancel: cancel, stop: make(chan struct{}), done: make(chan struct{})}
	go ls.heartbeat()
	return ls
}

// heartbeat renews the lease every TTL/3 until released. It cancels the lease's context when the lock
// was taken over, or when renewals failed for 2/3 of the TTL (before the server would let another
// migrator take it).
func (ls *lease) heartbeat() {
	defer close(ls.done)
	interval := ls.lock.ttl / 3
	renewed := time.Now()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ls.stop:
			return
		case <-ls.ctx.Done():
			return
		case <-ticker.C:
		}
		err := ls.renew(ls.ctx)
		var lost *LockedError
		if errors.As(err, &lost) {
			ls.cancel(lost)
			return
		}
		if err == nil {
			renewed = time.Now()
		} else if time.Since(renewed) >= ls.lock.ttl-interval {
			ls.cancel(fmt.Errorf("could not renew the schema lock for %s, stopped before it expires: %w", time.Since(renewed).Round(time.Millisecond), err))
			return
		}
	}
}

// check returns an error unless this lease still holds the lock: the cause the heartbeat cancelled
// the context with, or a *LockedError with Lost set when another migrator holds the highest epoch.
func (ls *lease) check(ctx context.Context) error {
	if err := context.Cause(ls.ctx); err != nil {
		return err
	}
	cur, err := ls.lock.current(ctx)
	if err != nil {
		return err
	}
	if cur == nil || cur.token != ls.token || cur.expired {
		lost := &LockedError{Lost: true}
		if cur != nil {
			lost.Owner, lost.Until = cur.owner, cur.expiresAt
		}
		return lost
	}
	return nil
}

// renew checks the lease and extends it by the TTL.
func (ls *lease) renew(ctx context.Context) error {
	if err := ls.check(ctx); err != nil {
		return err
	}
	return ls.lock.write(ctx, ls.epoch, ls.token, ls.lock.ttl)
}

// release stops the heartbeat and lets the lease expire now, if this migrator still holds it. It
// runs even when ctx is cancelled, for at most 10 s.
func (ls *lease) release(ctx context.Context) error {
	close(ls.stop)
	<-ls.done
	ls.cancel(nil)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	cur, err := ls.lock.current(ctx)
	if err != nil || cur == nil || cur.token != ls.token {
		return err
	}
	return ls.lock.write(ctx, ls.epoch, ls.token, 0)
}

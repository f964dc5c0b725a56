package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/migrate"
)

// notReadyError is a step's typed outcome for a component that is not ready: the reason and message of
// its condition, when to look again, and, for a failure worth retrying with backoff, the cause. Steps
// return it; runSteps (through applyOutcome) is the one place that turns it into the condition and the
// requeue. Whether the pipeline stalls is the reason's class (reasonClasses), not the step's to say.
type notReadyError struct {
	reason, message string
	// recheck, when set, looks at the pipeline again after it: what is waited for is not watched.
	recheck time.Duration
	// cause, when set, is returned from the pass, which is retried with backoff.
	cause error
}

func (e *notReadyError) Error() string { return e.reason + ": " + e.message }
func (e *notReadyError) Unwrap() error { return e.cause }

// notReady is the outcome of a component that is not ready for reason.
func notReady(reason, format string, args ...any) *notReadyError {
	return &notReadyError{reason: reason, message: fmt.Sprintf(format, args...)}
}

// after makes the pipeline be looked at again after d.
func (e *notReadyError) after(d time.Duration) *notReadyError {
	e.recheck = d
	return e
}

// retrying also fails the pass with cause, so that it is retried with backoff.
func (e *notReadyError) retrying(cause error) *notReadyError {
	e.cause = cause
	return e
}

// applyOutcome turns a step's result into its condition and requeue: a *notReadyError sets condType
// False with its reason and message. Other errors pass through.
func applyOutcome(p *v1alpha1.AuditPipeline, condType string, res ctrl.Result, err error) (ctrl.Result, error) {
	var nr *notReadyError
	if !errors.As(err, &nr) {
		return res, err
	}
	markComponentNotReady(p, condType, nr.reason, "%s", nr.message)
	return lowestRequeue(res, ctrl.Result{RequeueAfter: nr.recheck}), nr.cause
}

// passState carries what one step of a pass hands to a later one: the schema step's migrator, for the
// retention step, set only when this pass found the schema at its target.
type passState struct {
	migrator *migrate.Migrator
	closers  []func()
}

type passKey struct{}

// withPass returns ctx carrying a new passState; close it when the pass ends.
func withPass(ctx context.Context) (context.Context, *passState) {
	st := &passState{}
	return context.WithValue(ctx, passKey{}, st), st
}

// passOf is the passState of ctx's pass; an empty one outside a pass.
func passOf(ctx context.Context) *passState {
	if st, ok := ctx.Value(passKey{}).(*passState); ok {
		return st
	}
	return &passState{}
}

func (st *passState) close() {
	for _, c := range st.closers {
		c()
	}
}

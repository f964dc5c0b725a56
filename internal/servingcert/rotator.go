package servingcert

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// Defaults of Options.
const (
	DefaultCAValidity   = 5 * 365 * 24 * time.Hour
	DefaultCertValidity = 365 * 24 * time.Hour
	DefaultResync       = 10 * time.Minute
)

const (
	// missingRetry is how soon a round runs again when an APIService does not exist yet.
	missingRetry = 30 * time.Second
	// minWait keeps Start from spinning when the next rotation is already due.
	minWait = time.Second
	// firstBackoff and maxBackoff bound Start's wait after a failed round (doubling in between).
	firstBackoff = 5 * time.Second
	maxBackoff   = 5 * time.Minute
)

// Options configure a Rotator.
type Options struct {
	// Namespace holds the Secrets and the Service (required).
	Namespace string
	// SecretName is the serving Secret, kubernetes.io/tls with tls.crt, tls.key and ca.crt (the CA bundle)
	// (required).
	SecretName string
	// CASecretName is the CA's Secret (ca.crt, ca.key, previous-ca.crt); default SecretName + "-ca".
	CASecretName string
	// ServiceName is the Service in front of the API server; it gives the certificate's DNS names
	// (required).
	ServiceName string
	// APIServiceNames are the APIServices whose spec.caBundle is kept equal to the CA bundle.
	APIServiceNames []string
	// CAValidity is a new CA's lifetime; default DefaultCAValidity.
	CAValidity time.Duration
	// CertValidity is a new serving certificate's lifetime; default DefaultCertValidity.
	CertValidity time.Duration
	// Resync is the longest wait between two rounds of Start, which repairs edits by hand; default
	// DefaultResync.
	Resync time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Client writes the objects (required). It also reads them unless Reader is set.
	Client client.Client
	// Reader reads the Secrets and APIServices; default Client. Give an uncached reader (the manager's
	// APIReader) so that no cluster-wide Secret informer is started and reads follow writes.
	Reader client.Reader
	// Log is the logger; default the context's.
	Log logr.Logger
	// Recorder records events on the Secrets when a CA or certificate is issued; optional.
	Recorder events.EventRecorder
}

// Rotator keeps the serving certificate, its CA and the APIServices' caBundle current.
type Rotator struct {
	opts     Options
	dnsNames []string
}

var _ manager.LeaderElectionRunnable = &Rotator{}

// New checks opts and fills in the defaults.
func New(opts Options) (*Rotator, error) {
	if opts.Namespace == "" || opts.SecretName == "" || opts.ServiceName == "" || opts.Client == nil {
		return nil, errors.New("servingcert: Namespace, SecretName, ServiceName and Client are required")
	}
	if opts.CASecretName == "" {
		opts.CASecretName = opts.SecretName + "-ca"
	}
	if opts.CASecretName == opts.SecretName {
		return nil, errors.New("servingcert: CASecretName must differ from SecretName")
	}
	opts.CAValidity = orDefault(opts.CAValidity, DefaultCAValidity)
	opts.CertValidity = orDefault(opts.CertValidity, DefaultCertValidity)
	opts.Resync = orDefault(opts.Resync, DefaultResync)
	if opts.CAValidity < 0 || opts.CertValidity < 0 || opts.Resync < 0 {
		return nil, errors.New("servingcert: CAValidity, CertValidity and Resync must be positive")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Reader == nil {
		opts.Reader = opts.Client
	}
	return &Rotator{opts: opts, dnsNames: DNSNames(opts.ServiceName, opts.Namespace)}, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// DNSNames are the names a Service is reached by inside the cluster.
func DNSNames(service, namespace string) []string {
	return []string{
		service,
		service + "." + namespace,
		service + "." + namespace + ".svc",
		service + "." + namespace + ".svc.cluster.local",
	}
}

// NeedLeaderElection is true: one operator replica rotates at a time.
func (r *Rotator) NeedLeaderElection() bool { return true }

// Start runs Ensure now and then whenever a rotation is due (at least every Resync), backing off from 5 s to
// 5 min after failures, until ctx ends.
func (r *Rotator) Start(ctx context.Context) error {
	logger := r.logger(ctx)
	failures := 0
	for {
		next, err := r.Ensure(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			failures++
		} else {
			failures = 0
		}
		wait := delay(r.opts.Now(), next, failures, r.opts.Resync)
		if err != nil {
			logger.Error(err, "ensure the serving certificate", "retryIn", wait)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		}
	}
}

// delay is how long Start waits before the next round: a doubling backoff after failures, else until next
// but within [minWait, resync].
func delay(now, next time.Time, failures int, resync time.Duration) time.Duration {
	if failures > 0 {
		d := firstBackoff
		for i := 1; i < failures && d < maxBackoff; i++ {
			d *= 2
		}
		return min(d, maxBackoff)
	}
	return min(max(next.Sub(now), minWait), resync)
}

// Ensure runs one round: the CA Secret, then every APIService's caBundle, then the serving Secret, each
// written only when it must change. It returns when the next round is due: the earliest renewal or
// expiry, or a retry soon when an APIService is missing. A round that lost a race to another writer is run
// again.
func (r *Rotator) Ensure(ctx context.Context) (time.Time, error) {
	var next time.Time
	err := retry.OnError(retry.DefaultRetry, lostRace, func() error {
		var err error
		next, err = r.round(ctx)
		return err
	})
	return next, err
}

// lostRace is true for the errors another writer causes between our read and our write.
func lostRace(err error) bool {
	return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)
}

func (r *Rotator) round(ctx context.Context) (time.Time, error) {
	now := r.opts.Now()
	serving, err := r.getSecret(ctx, r.opts.SecretName)
	if err != nil {
		return time.Time{}, err
	}
	auth, err := r.ensureCA(ctx, now, serving)
	if err != nil {
		return time.Time{}, err
	}
	missing, err := r.ensureAPIServices(ctx, auth.bundle)
	if err != nil {
		return time.Time{}, err
	}
	certRenewal, err := r.ensureServing(ctx, now, serving, auth)
	if err != nil {
		return time.Time{}, err
	}
	next := earliest(auth.next, certRenewal)
	if missing {
		next = earliest(next, now.Add(missingRetry))
	}
	return next, nil
}

// earliest is the earliest of times, ignoring zero ones.
func earliest(times ...time.Time) time.Time {
	var first time.Time
	for _, t := range times {
		if !t.IsZero() && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	return first
}

func (r *Rotator) logger(ctx context.Context) logr.Logger {
	if r.opts.Log.GetSink() != nil {
		return r.opts.Log
	}
	return log.FromContext(ctx).WithName("servingcert")
}

// event records an event on obj when a recorder is set.
func (r *Rotator) event(obj client.Object, reason, action, note string, args ...any) {
	if r.opts.Recorder != nil {
		r.opts.Recorder.Eventf(obj, nil, "Normal", reason, action, note, args...)
	}
}

// wrap names the object an API call failed on.
func wrap(err error, verb, kind, name string) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %s %s: %w", verb, kind, name, err)
}

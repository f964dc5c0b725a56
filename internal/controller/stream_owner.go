package controller

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/render"
	"github.com/auditpipeline/auditpipeline-operator/internal/secretvalue"
)

// Two pipelines whose streams have the same name, on a NATS server both name, in the same account, are
// one JetStream stream with one durable consumer: each aggregator would take part of the other's events
// into its own database, and NACK would apply both specs to the stream in turn. The older pipeline keeps
// the stream; the newer one reports StreamInUse and applies nothing that reads or writes it.
// Pipelines of other clusters are not seen.

// jetStreamStream identifies the JetStream stream a pipeline uses.
type jetStreamStream struct {
	name    string
	servers map[string]bool // host:port
	account string          // "" without credentials, else the user's account public key
}

// natsServerKey is a server URL's host:port (4222 when it names none), whatever its scheme.
func natsServerKey(server string) string {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return strings.ToLower(server)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "4222"
	}
	return net.JoinHostPort(strings.ToLower(host), port)
}

// streamOf identifies p's stream; with like set, it reads p's credentials only when the name and a
// server are like's. ok is false when it cannot be told (its credentials cannot be read), or when p's
// stream is not like's: such a pipeline is taken to use a stream of its own.
func (r *AuditPipelineReconciler) streamOf(ctx context.Context, p *v1alpha1.AuditPipeline, like *jetStreamStream) (s jetStreamStream, ok bool) {
	objs, err := render.NATS(p)
	if err != nil {
		return s, false
	}
	s = jetStreamStream{name: objs.Stream.Spec.Name, servers: map[string]bool{}}
	for _, server := range p.Spec.NATS.Servers {
		s.servers[natsServerKey(server)] = true
	}
	if like != nil && !s.sameServer(*like) {
		return s, false
	}
	if ref := p.Spec.NATS.CredentialsSecretRef; ref != nil {
		creds, err := r.secretValue(ctx, p.Namespace, ref.Name, ref.Key)
		if err != nil {
			return s, false
		}
		if s.account, err = secretvalue.CredsAccount(creds); err != nil || s.account == "" {
			return s, false
		}
	}
	return s, true
}

func (s jetStreamStream) same(o jetStreamStream) bool {
	return s.account == o.account && s.sameServer(o)
}

// sameServer says whether s and o have the same name on a server both name.
func (s jetStreamStream) sameServer(o jetStreamStream) bool {
	if s.name != o.name {
		return false
	}
	for server := range s.servers {
		if o.servers[server] {
			return true
		}
	}
	return false
}

// olderPipeline orders pipelines by creation (to the second), then the one that has applied its stream
// first, then by UID.
func olderPipeline(a, b *v1alpha1.AuditPipeline) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	if applied := a.Status.Stream != nil; applied != (b.Status.Stream != nil) {
		return applied
	}
	return a.UID < b.UID
}

// streamOwner is the older pipeline of this cluster whose JetStream stream is p's, or nil.
func (r *AuditPipelineReconciler) streamOwner(ctx context.Context, p *v1alpha1.AuditPipeline) (*v1alpha1.AuditPipeline, jetStreamStream, error) {
	mine, ok := r.streamOf(ctx, p, nil)
	if !ok {
		return nil, mine, nil
	}
	var list v1alpha1.AuditPipelineList
	if err := r.List(ctx, &list); err != nil {
		return nil, mine, fmt.Errorf("list AuditPipelines to find another on stream %s: %w", mine.name, err)
	}
	var owner *v1alpha1.AuditPipeline
	for i := range list.Items {
		q := &list.Items[i]
		if q.UID == p.UID || !q.DeletionTimestamp.IsZero() || !olderPipeline(q, p) {
			continue
		}
		if theirs, ok := r.streamOf(ctx, q, &mine); ok && mine.same(theirs) && (owner == nil || olderPipeline(q, owner)) {
			owner = q
		}
	}
	return owner, mine, nil
}

// streamInUseMessage says which pipeline has p's stream, and what to do.
func streamInUseMessage(owner *v1alpha1.AuditPipeline, s jetStreamStream) string {
	account := "without credentials"
	if s.account != "" {
		account = "in account " + s.account
	}
	return fmt.Sprintf("JetStream stream %s on %s, %s, is already the stream of AuditPipeline %s/%s: "+
		"with both, each aggregator would take part of the other's events into its own database. Nothing that reads "+
		"or writes the stream is applied; workloads this pipeline already runs are left as they are. Create this "+
		"pipeline again with spec.nats.stream.name and spec.nats.consumer.durableName of its own (neither can change), "+
		"or use another NATS account", s.name, strings.Join(slices.Sorted(maps.Keys(s.servers)), ","), account, owner.Namespace, owner.Name)
}

package controller

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/altinity"
	"github.com/auditpipeline/auditpipeline-operator/internal/clickhouse"
	"github.com/auditpipeline/auditpipeline-operator/internal/render"
)

// +kubebuilder:rbac:groups=clickhouse.altinity.com,resources=clickhouseinstallations,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=clickhouse-keeper.altinity.com,resources=clickhousekeeperinstallations,verbs=get;list;watch;create;update;patch;delete

// reconcileClickHouse makes ClickHouse available to the pipeline and reports ClickHouseReady.
func (r *AuditPipelineReconciler) reconcileClickHouse(ctx context.Context, p *v1alpha1.AuditPipeline) (ctrl.Result, error) {
	if ok, err := r.requireSecrets(ctx, p, clickHouseSecrets(p)); !ok {
		return ctrl.Result{}, err
	}
	if p.Spec.ClickHouse.Managed == nil {
		return r.reconcileExternalClickHouse(ctx, p)
	}
	return r.reconcileManagedClickHouse(ctx, p)
}

// reconcileExternalClickHouse checks that the external ClickHouse answers and accepts the credentials.
// An unreachable server is retried with backoff; refused credentials wait for the Secret to change.
func (r *AuditPipelineReconciler) reconcileExternalClickHouse(ctx context.Context, p *v1alpha1.AuditPipeline) (ctrl.Result, error) {
	p.Status.ClickHouse = clickHouseStatus(p)
	ep, err := r.clickHouseEndpoint(ctx, p)
	if err != nil {
		return ctrl.Result{}, notReady(v1alpha1.ReasonInvalidSpec, "%v", err)
	}
	version, err := clickhouse.ServerVersion(ctx, ep)
	switch {
	case clickhouse.IsAuthError(err):
		return ctrl.Result{}, notReady(v1alpha1.ReasonAuthenticationFailed,
			"ClickHouse at %s refused user %q: check spec.clickhouse.credentials and its Secret (%v)",
			p.Status.ClickHouse.NativeEndpoint, ep.Username, err)
	case err != nil:
		return ctrl.Result{}, notReady(v1alpha1.ReasonUnreachable, "%v", err).retrying(fmt.Errorf("reach external ClickHouse: %w", err))
	}
	markComponentReady(p, v1alpha1.ConditionClickHouseReady,
		fmt.Sprintf("ClickHouse %s answers at %s", version, p.Status.ClickHouse.NativeEndpoint))
	return ctrl.Result{}, nil
}

// reconcileManagedClickHouse applies the Keeper and ClickHouse installations and reads their status.
func (r *AuditPipelineReconciler) reconcileManagedClickHouse(ctx context.Context, p *v1alpha1.AuditPipeline) (ctrl.Result, error) {
	chi, err := render.ClickHouseInstallation(p)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("render ClickHouseInstallation: %w", err)
	}
	chk := render.KeeperInstallation(p)
	if chk != nil {
		if err := r.applyChild(ctx, p, chk); err != nil {
			return dependencyError(altinityOperator, err)
		}
	} else if err := r.deleteStaleKeeper(ctx, p); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.applyChild(ctx, p, chi); err != nil {
		return dependencyError(altinityOperator, err)
	}
	p.Status.ClickHouse = clickHouseStatus(p)

	expected := p.Spec.ClickHouse.Managed.Shards * p.Spec.ClickHouse.Managed.Replicas
	if ready, reason, msg := installationState("ClickHouseInstallation", chi.Name, &chi.Status, expected); !ready {
		return ctrl.Result{}, notReady(reason, "%s", msg)
	}
	if chk != nil {
		replicas := chk.Spec.Configuration.Clusters[0].Layout.ReplicasCount
		if ready, reason, msg := installationState("ClickHouseKeeperInstallation", chk.Name, &chk.Status, replicas); !ready {
			return ctrl.Result{}, notReady(reason, "%s", msg)
		}
	}
	markComponentReady(p, v1alpha1.ConditionClickHouseReady,
		fmt.Sprintf("ClickHouseInstallation %s: %d of %d hosts completed", chi.Name, chi.Status.HostsCompleted, expected))
	return ctrl.Result{}, nil
}

// installationState reads an Altinity status: ready when the last reconcile completed on every host.
func installationState(kind, name string, s *altinity.CHIStatus, hosts int32) (bool, string, string) {
	errs := s.Errors
	if s.Error != "" {
		errs = append([]string{s.Error}, errs...)
	}
	switch {
	case s.Status == altinity.StatusAborted || len(errs) > 0:
		return false, v1alpha1.ReasonInstallationFailed,
			fmt.Sprintf("%s %s: status %q: %s", kind, name, s.Status, strings.Join(errs, "; "))
	case s.Status == "":
		return false, v1alpha1.ReasonInstalling,
			fmt.Sprintf("%s %s has no status yet: is the Altinity clickhouse-operator running?", kind, name)
	case s.Status != altinity.StatusCompleted || s.HostsCompleted < hosts:
		return false, v1alpha1.ReasonInstalling,
			fmt.Sprintf("%s %s: status %s, %d of %d hosts completed", kind, name, s.Status, s.HostsCompleted, hosts)
	}
	return true, v1alpha1.ReasonReady, ""
}

// deleteStaleKeeper removes the Keeper installation of a pipeline scaled down to one replica.
func (r *AuditPipelineReconciler) deleteStaleKeeper(ctx context.Context, p *v1alpha1.AuditPipeline) error {
	chk := &altinity.ClickHouseKeeperInstallation{}
	err := r.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: p.Name}, chk)
	if apierrors.IsNotFound(err) || apimeta.IsNoMatchError(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get ClickHouseKeeperInstallation: %w", err)
	}
	if !metav1.IsControlledBy(chk, p) {
		return nil
	}
	if err := r.Delete(ctx, chk); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("delete unneeded ClickHouseKeeperInstallation: %w", err)
	}
	return nil
}

// dependencyError turns a missing CRD into a Stalled component condition naming the operator to install;
// other errors are retried with backoff.
func dependencyError(operator string, err error) (ctrl.Result, error) {
	if apimeta.IsNoMatchError(err) {
		return ctrl.Result{}, notReady(v1alpha1.ReasonDependencyMissing,
			"the CRDs of %s are not installed: install it, then restart this operator so it watches them (%v)", operator, err)
	}
	return ctrl.Result{}, err
}

const altinityOperator = "the Altinity clickhouse-operator (0.25 or later)"

// clickHouseStatus is status.clickhouse for p: its mode, installation and endpoints. The TTL in force is
// kept from the last observation; the schema step refreshes it.
func clickHouseStatus(p *v1alpha1.AuditPipeline) *v1alpha1.ClickHouseStatus {
	st := &v1alpha1.ClickHouseStatus{
		Mode:           "External",
		NativeEndpoint: render.ClickHouseNativeAddrs(p)[0],
		HTTPEndpoint:   render.ClickHouseHTTPEndpoint(p),
	}
	if p.Spec.ClickHouse.Managed != nil {
		st.Mode, st.Installation = "Managed", p.Name
	}
	if p.Status.ClickHouse != nil {
		st.TTL = p.Status.ClickHouse.TTL
	}
	return st
}

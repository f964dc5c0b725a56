package auditapi

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/healthz"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	basecompatibility "k8s.io/component-base/compatibility"

	auditv1alpha1 "github.com/auditpipeline/auditpipeline-operator/api/audit/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/auditapi/openapi"
)

// ServerOptions are the generic API server's options the audit API server takes: serving, and
// authentication and authorization delegated to kube-apiserver (TokenReview, SubjectAccessReview, the
// front proxy's client CA from kube-system/extension-apiserver-authentication).
type ServerOptions struct {
	SecureServing  *genericoptions.SecureServingOptionsWithLoopback
	Authentication *genericoptions.DelegatingAuthenticationOptions
	Authorization  *genericoptions.DelegatingAuthorizationOptions
}

// NewServerOptions returns the defaults: port 8443, the certificate from --tls-cert-file and
// --tls-private-key-file (reloaded when the files change, as a rotated Secret's are).
func NewServerOptions() *ServerOptions {
	s := genericoptions.NewSecureServingOptions()
	s.BindPort = 8443
	return &ServerOptions{SecureServing: s.WithLoopback(), Authentication: genericoptions.NewDelegatingAuthenticationOptions(),
		Authorization: genericoptions.NewDelegatingAuthorizationOptions()}
}

// NewServer builds the audit API server on src. now is the clock of "now" in filters and default ranges.
func NewServer(o *ServerOptions, src Source, now func() time.Time) (*genericapiserver.GenericAPIServer, error) {
	if errs := o.SecureServing.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("serving options: %v", errs)
	}
	if err := o.SecureServing.MaybeDefaultWithSelfSignedCerts("localhost", nil, []net.IP{net.ParseIP("127.0.0.1")}); err != nil {
		return nil, fmt.Errorf("serving certificate: %w", err)
	}
	cfg := genericapiserver.NewRecommendedConfig(Codecs)
	cfg.EffectiveVersion = basecompatibility.NewEffectiveVersionFromString("1.37", "", "")
	namer := openapinamer.NewDefinitionNamer(Scheme)
	cfg.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(openapi.GetOpenAPIDefinitions, namer)
	cfg.OpenAPIConfig.Info.Title, cfg.OpenAPIConfig.Info.Version = "audit.auditpipeline.io", "v1alpha1"
	cfg.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(openapi.GetOpenAPIDefinitions, namer)
	cfg.OpenAPIV3Config.Info.Title, cfg.OpenAPIV3Config.Info.Version = "audit.auditpipeline.io", "v1alpha1"
	if err := o.SecureServing.ApplyTo(&cfg.SecureServing, &cfg.LoopbackClientConfig); err != nil {
		return nil, fmt.Errorf("serving: %w", err)
	}
	if err := o.Authentication.ApplyTo(&cfg.Authentication, cfg.SecureServing, nil); err != nil {
		return nil, fmt.Errorf("delegated authentication: %w", err)
	}
	if err := o.Authorization.ApplyTo(&cfg.Authorization); err != nil {
		return nil, fmt.Errorf("delegated authorization: %w", err)
	}
	server, err := cfg.Complete().New("auditpipeline-audit-api", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, err
	}
	info := genericapiserver.NewDefaultAPIGroupInfo(auditv1alpha1.Group, Scheme, runtime.NewParameterCodec(Scheme), Codecs)
	info.VersionedResourcesStorageMap[auditv1alpha1.SchemeGroupVersion.Version] = map[string]rest.Storage{
		auditv1alpha1.ResourceAuditEvents:              &eventsREST{src: src, now: now},
		auditv1alpha1.ResourceAuditEventQueries:        &queryREST{src: src, authz: cfg.Authorization.Authorizer, now: now},
		auditv1alpha1.ResourceClusterAuditEventQueries: &queryREST{src: src, authz: cfg.Authorization.Authorizer, cluster: true, now: now},
	}
	if err := server.InstallAPIGroup(&info); err != nil {
		return nil, fmt.Errorf("install %s: %w", auditv1alpha1.SchemeGroupVersion, err)
	}
	// Ready once the pipeline and its database can be read, and not while its last reload failed.
	if err := server.AddReadyzChecks(healthz.NamedCheck("pipeline", func(r *http.Request) error {
		_, scope, err := src.Reader(r.Context())
		if h, ok := src.(interface{ Health() error }); ok && err == nil {
			err = h.Health()
		}
		if err == nil && scope.Cluster == "" {
			err = fmt.Errorf("the pipeline has no status.clusterName yet")
		}
		return err
	})); err != nil {
		return nil, err
	}
	return server, nil
}

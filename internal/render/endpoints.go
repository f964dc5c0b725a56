package render

import (
	"fmt"
	"net"
	"strconv"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

// ManagedClickHouseHTTPPort is the HTTP port of a managed ClickHouse's service.
const ManagedClickHouseHTTPPort = 8123

// ClickHouseHTTPEndpoint is the URL of the ClickHouse HTTP interface the aggregator inserts through: the
// first external host with its httpPort (https when TLS is configured), or the managed installation's
// Service in the pipeline's namespace. It is the single place that decides this URL: the aggregator inserts
// through it and status.clickhouse.httpEndpoint shows it.
func ClickHouseHTTPEndpoint(p *v1alpha1.AuditPipeline) string {
	ch := &p.Spec.ClickHouse
	if ext := ch.External; ext != nil && len(ext.Hosts) > 0 {
		scheme := "http"
		if ext.TLS != nil {
			scheme = "https"
		}
		port := ext.HTTPPort
		if port == 0 {
			port = 8123
		}
		return fmt.Sprintf("%s://%s", scheme, net.JoinHostPort(ext.Hosts[0], strconv.Itoa(int(port))))
	}
	return fmt.Sprintf("http://%s.%s.svc:%d", ClickHouseServiceName(p), p.Namespace, ManagedClickHouseHTTPPort)
}

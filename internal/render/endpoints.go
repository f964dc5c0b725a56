package render

import (
	"fmt"
	"net"
	"strconv"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

// Ports of a managed ClickHouse's service.
const (
	ManagedClickHouseHTTPPort   = 8123
	ManagedClickHouseNativePort = 9000
)

// ClickHouseNativeAddrs are the host:port addresses of the native protocol the operator migrates the
// schema through: every external host with its nativePort, or the managed installation's Service.
func ClickHouseNativeAddrs(p *v1alpha1.AuditPipeline) []string {
	if ext := p.Spec.ClickHouse.External; ext != nil {
		addrs := make([]string, 0, len(ext.Hosts))
		for _, h := range ext.Hosts {
			addrs = append(addrs, net.JoinHostPort(h, strconv.Itoa(int(ext.NativePort))))
		}
		return addrs
	}
	host := fmt.Sprintf("%s.%s.svc", ClickHouseServiceName(p), p.Namespace)
	return []string{net.JoinHostPort(host, strconv.Itoa(ManagedClickHouseNativePort))}
}

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

// Package servingcert gives the aggregated API server its serving certificate when cert-manager does not:
// a self-signed CA and a serving certificate it signs (certs.go, pure), and the Rotator (rotator.go), a
// leader-elected manager.Runnable that keeps the CA Secret, the serving Secret and the APIServices'
// spec.caBundle in step, rotating before expiry without a moment in which the aggregator distrusts what a
// pod serves.
package servingcert

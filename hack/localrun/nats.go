package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/natstest"
)

// jetStreamMaxStore is the local server's storage limit. A stream reserves its maxBytes (100Gi by
// default) at creation, and a server refuses a stream larger than its limit, which by default is 75% of
// the free disk: the local server accepts the sample's stream, which it never fills.
const jetStreamMaxStore = 1 << 40

// jetStream is a NATS server with JetStream on a free loopback port, its store in a temporary directory.
type jetStream struct {
	*server.Server
	dir string
}

// startJetStream starts a JetStream server like the one test/nats runs, logging through ctrl.Log.
func startJetStream() (*jetStream, error) {
	dir, err := os.MkdirTemp("", "localrun-jetstream-")
	if err != nil {
		return nil, err
	}
	s, err := natstest.StartJetStream(server.Options{ServerName: "localrun", StoreDir: dir,
		JetStreamMaxStore: jetStreamMaxStore}, natsLog{})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("NATS server: %w", err)
	}
	return &jetStream{Server: s, dir: dir}, nil
}

// Stop shuts the server down and removes its store.
func (j *jetStream) Stop() error {
	j.Shutdown()
	j.WaitForShutdown()
	return os.RemoveAll(j.dir)
}

// startNACK runs NACK's JetStream controller in this process, as test/nats does. Its Events go to the
// API server, as in a cluster.
func startNACK(ctx context.Context, cfg *rest.Config) error {
	return natstest.StartNACK(ctx, cfg, natstest.NACKOptions{
		CleanupPeriod: 30 * time.Second, // NACK's default
		OnStop:        func(err error) { ctrl.Log.WithName("nack").Error(err, "NACK's controller stopped") },
	})
}

// natsLogger receives the NATS server's log lines.
var natsLogger = ctrl.Log.WithName("nats-server")

// natsLog is the NATS server's logger: its lines go to ctrl.Log, so where the operator's go.
type natsLog struct{}

func (natsLog) Noticef(format string, v ...any) { natsLogger.Info(fmt.Sprintf(format, v...)) }
func (natsLog) Warnf(format string, v ...any) {
	natsLogger.Info(fmt.Sprintf(format, v...), "severity", "warning")
}
func (natsLog) Fatalf(format string, v ...any) { natsLogger.Error(nil, fmt.Sprintf(format, v...)) }
func (natsLog) Errorf(format string, v ...any) { natsLogger.Error(nil, fmt.Sprintf(format, v...)) }
func (natsLog) Debugf(format string, v ...any) { natsLogger.V(1).Info(fmt.Sprintf(format, v...)) }
func (natsLog) Tracef(format string, v ...any) { natsLogger.V(2).Info(fmt.Sprintf(format, v...)) }

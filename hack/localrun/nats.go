package main

import (
	"context"
	"fmt"
	"os"
	"time"

	nackcontroller "github.com/nats-io/nack/controllers/jetstream"
	nackclient "github.com/nats-io/nack/pkg/jetstream/generated/clientset/versioned"
	"github.com/nats-io/nats-server/v2/server"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
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
	s, err := server.NewServer(&server.Options{
		ServerName: "localrun", Host: "127.0.0.1", Port: server.RANDOM_PORT,
		JetStream: true, StoreDir: dir, JetStreamMaxStore: jetStreamMaxStore, NoSigs: true,
	})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("NATS server: %w", err)
	}
	s.SetLogger(natsLog{}, false, false)
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("the NATS server did not start within 10s")
	}
	return &jetStream{Server: s, dir: dir}, nil
}

// Stop shuts the server down and removes its store.
func (j *jetStream) Stop() error {
	j.Shutdown()
	j.WaitForShutdown()
	return os.RemoveAll(j.dir)
}

// startNACK runs NACK's JetStream controller in this process, as test/nats does: with CRDConnect it
// connects to the servers of each Stream and Consumer. Its Events go to the API server, as in a cluster.
// Once ctx ends its queue workers spin until the process exits, so ctx ends just before the process does.
func startNACK(ctx context.Context, cfg *rest.Config) error {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("kubernetes client for NACK: %w", err)
	}
	js, err := nackclient.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("jetstream client for NACK: %w", err)
	}
	c := nackcontroller.NewController(nackcontroller.Options{
		Ctx:            ctx,
		KubeIface:      kube,
		JetstreamIface: js,
		CRDConnect:     true,
		CleanupPeriod:  30 * time.Second, // NACK's default
	})
	go func() {
		if err := c.Run(); err != nil {
			ctrl.Log.WithName("nack").Error(err, "NACK's controller stopped")
		}
	}()
	return nil
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

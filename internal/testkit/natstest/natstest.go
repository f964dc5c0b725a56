// Package natstest runs the NATS side of the pipeline in the current process, on loopback: a NATS server
// with JetStream, and NACK's JetStream controller. test/nats and the local run (hack/localrun) use it.
package natstest

import (
	"context"
	"errors"
	"time"

	nackcontroller "github.com/nats-io/nack/controllers/jetstream"
	nackclient "github.com/nats-io/nack/pkg/jetstream/generated/clientset/versioned"
	"github.com/nats-io/nats-server/v2/server"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
)

// StartJetStream starts a NATS server with JetStream on a free loopback port, with opts as given (a
// StoreDir is required) and logger for its log lines (nil: none), and waits until it takes connections.
// The caller shuts it down.
func StartJetStream(opts server.Options, logger server.Logger) (*server.Server, error) {
	if opts.StoreDir == "" {
		return nil, errors.New("start JetStream: opts.StoreDir is required")
	}
	opts.Host, opts.Port, opts.JetStream, opts.NoSigs = "127.0.0.1", server.RANDOM_PORT, true, true
	opts.NoLog = logger == nil
	s, err := server.NewServer(&opts)
	if err != nil {
		return nil, err
	}
	if logger != nil {
		s.SetLogger(logger, false, false)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, errors.New("the JetStream server did not take connections within 10s")
	}
	return s, nil
}

// NACKOptions are the settings of NACK's controller that differ between its users.
type NACKOptions struct {
	// CleanupPeriod is how often it looks for deleted Streams and Consumers (NACK's default is 30s).
	CleanupPeriod time.Duration
	// Recorder receives its Events; nil sends them to the API server, as in a cluster.
	Recorder record.EventRecorder
	// OnStop is called with the error that stopped it, if any.
	OnStop func(error)
}

// StartNACK runs NACK's informer-based JetStream controller until ctx ends. With CRDConnect it connects
// with the servers, or the Account, of each Stream and Consumer: it knows no server of its own. Once ctx
// ends its queue workers spin until the process exits, so end ctx just before the process does.
func StartNACK(ctx context.Context, cfg *rest.Config, opts NACKOptions) error {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	js, err := nackclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	c := nackcontroller.NewController(nackcontroller.Options{
		Ctx:            ctx,
		KubeIface:      kube,
		JetstreamIface: js,
		CRDConnect:     true,
		CleanupPeriod:  opts.CleanupPeriod,
		Recorder:       opts.Recorder,
	})
	go func() {
		if err := c.Run(); err != nil && opts.OnStop != nil {
			opts.OnStop(err)
		}
	}()
	return nil
}

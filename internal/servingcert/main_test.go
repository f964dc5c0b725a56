package servingcert

import (
	"os"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/testenv"
)

var (
	// restConfig reaches the suite's API server as an admin.
	restConfig *rest.Config
	// k8s is a direct client of it, for the tests' own reads and edits.
	k8s client.Client
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, func(e *testenv.Env, c client.Client) { restConfig, k8s = e.Config, c }))
}

package remote

import (
	"os"
	"testing"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

func TestMain(m *testing.M) {
	// The executor logs through controller-runtime's logger, which complains
	// when a process never sets one.
	log.SetLogger(logr.Discard())
	os.Exit(m.Run())
}

package engine

import (
	"flag"
	"testing"

	"go.uber.org/goleak"
)

// long enables the long-running variants (10^6-step energy run).
var long = flag.Bool("long", false, "run the long physics tests")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

package telemetry

import (
	"context"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// loadGenEnv makes the test binary act as the load-generator child process
// (RunBench with LoadCommand = the test binary).
const loadGenEnv = "SPACETIME_TELEMETRY_LOADGEN_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(loadGenEnv) == "1" {
		if err := LoadMain(context.Background(), os.Args[1:], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// Package procstat reads what the operating system says about this
// process, for the API, the metrics and the telemetry stream alike.
package procstat

import (
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
)

// ResidentBytes is the process's resident set size from /proc/self/statm,
// or, where that is missing (not Linux), all memory the Go runtime has
// mapped. It reads a file: callers on a hot path sample it.
func ResidentBytes() uint64 {
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if n, ok := parseStatmResident(string(b)); ok {
			return n * uint64(os.Getpagesize())
		}
	}
	sample := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() == metrics.KindUint64 {
		return sample[0].Value.Uint64()
	}
	return 0
}

// parseStatmResident returns the second field of /proc/self/statm: the
// resident set size in pages.
func parseStatmResident(s string) (uint64, bool) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return 0, false
	}
	n, err := strconv.ParseUint(f[1], 10, 64)
	return n, err == nil
}

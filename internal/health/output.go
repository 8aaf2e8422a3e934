package health

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// rule is the guide's separator line.
const rule = "========================================"

// WriteText prints the report in the guide's layout:
//
//	========================================
//	SpaceTime System Health Check
//	========================================
//
//	[PASS] Executable and Version - spacetime 1.0.0 (...), the same as the server
//	[WARN] Engine at Rate - 80.2 fps, below the threshold of 85.0 (target 90)
//	...
//
//	========================================
//	Summary: 11 checks PASSED, 0 checks FAILED, 1 warnings
//	========================================
//
// With verbose, each check's detail lines follow it, indented.
func WriteText(w io.Writer, rep Report, verbose bool) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\nSpaceTime System Health Check\n%s\n\n", rule, rule)
	for _, r := range rep.Checks {
		fmt.Fprintf(&b, "[%s] %s - %s\n", strings.ToUpper(string(r.Status)), r.Name, oneLine(r.Summary))
		if verbose {
			for _, d := range r.Detail {
				fmt.Fprintf(&b, "       %s\n", oneLine(d))
			}
		}
	}
	fmt.Fprintf(&b, "\n%s\nSummary: %d checks PASSED, %d checks FAILED, %d warnings\n%s\n",
		rule, rep.Summary.Passed, rep.Summary.Failed, rep.Summary.Warnings, rule)
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON prints the report as one indented JSON document:
//
//	{"checks":[{"id","name","status","summary","detail":[...]}, ...],
//	 "summary":{"passed","failed","warnings"},"healthy":bool}
//
// The field names and their order are stable; status is "pass", "fail"
// or "warn".
func WriteJSON(w io.Writer, rep Report) error {
	checks := make([]Result, len(rep.Checks))
	copy(checks, rep.Checks)
	for i := range checks {
		if checks[i].Detail == nil {
			checks[i].Detail = []string{}
		}
	}
	rep.Checks = checks
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(rep)
}

// oneLine keeps a summary or detail on one line.
func oneLine(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r", ""), "\n", "; ")
}

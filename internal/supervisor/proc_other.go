//go:build !unix

package supervisor

import (
	"os"
	"syscall"
)

// sysProcAttr: no process groups here; the child is signalled alone.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// terminateGroup has no graceful signal to send here: it kills the child.
func terminateGroup(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

// killGroup kills the child.
func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}

// exitSignal: no signals here.
func exitSignal(*os.ProcessState) string { return "" }

//go:build unix

package supervisor

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// terminateGroup sends SIGTERM to the child's process group.
func terminateGroup(pid int) error {
	if err := syscall.Kill(-pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("SIGTERM to process group %d: %w", pid, err)
	}
	return nil
}

// killGroup sends SIGKILL to what is left of the child's process group.
func killGroup(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL) // ESRCH: nothing left
}

// exitSignal names the signal that ended the process, "" when it exited.
func exitSignal(ps *os.ProcessState) string {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal().String()
	}
	return ""
}

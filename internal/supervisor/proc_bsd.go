//go:build unix && !linux

package supervisor

import "syscall"

// sysProcAttr puts the child in its own process group, so signals to the
// supervisor's group do not reach it by accident and the supervisor can
// signal the child's whole group.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

//go:build unix && !linux

package localenv

import "syscall"

// ownProcessGroup puts the child in a process group of its own.
func ownProcessGroup() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

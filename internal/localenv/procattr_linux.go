package localenv

import "syscall"

// ownProcessGroup also asks Linux to send the child SIGTERM if this process
// dies without stopping it (kill -9, a crash), so no child outlives it. The
// signal follows the OS thread that started the child; Go keeps its threads
// for the life of the process unless a goroutine locked to one exits, which
// nothing here does.
func ownProcessGroup() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

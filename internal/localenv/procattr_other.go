//go:build !unix

package localenv

import "syscall"

// ownProcessGroup is nil where process groups do not exist; the envtest
// toolchain does not run there either.
func ownProcessGroup() *syscall.SysProcAttr { return nil }

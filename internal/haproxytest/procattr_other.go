//go:build !linux

package haproxytest

import "syscall"

// procAttr puts HAProxy in its own process group.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

package haproxytest

import "syscall"

// procAttr puts HAProxy in its own process group and asks the kernel to
// send it SIGTERM should the starting program die without stopping it.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

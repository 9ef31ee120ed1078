//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package conn

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// connCheck peeks one byte of c without blocking: EOF or a reset means the
// peer is gone, data means the stream is out of step, EAGAIN means the
// connection is idle and alive. A connection that offers no raw file
// descriptor is taken as alive.
func connCheck(c net.Conn) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var (
		n      int
		sysErr error
	)
	err = rc.Read(func(fd uintptr) bool {
		var buf [1]byte
		n, _, sysErr = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true
	})
	switch {
	case err != nil:
		return err
	case errors.Is(sysErr, syscall.EAGAIN) || errors.Is(sysErr, syscall.EWOULDBLOCK):
		return nil
	case sysErr != nil:
		return sysErr
	case n == 0:
		return io.EOF
	}
	return errUnexpectedRead
}

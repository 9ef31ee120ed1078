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

// connChecker is connCheck for one connection, checked again and again
// (the HS2HTTP transport checks its keep-alive connection before each
// request): it allocates nothing per check.
type connChecker struct {
	rc     syscall.RawConn // nil: no raw file descriptor, always alive
	n      int
	sysErr error
	peek   func(fd uintptr) bool
}

func newConnChecker(c net.Conn) *connChecker {
	k := &connChecker{}
	if sc, ok := c.(syscall.Conn); ok {
		k.rc, _ = sc.SyscallConn()
	}
	k.peek = func(fd uintptr) bool {
		var buf [1]byte
		k.n, _, k.sysErr = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true
	}
	return k
}

// check is connCheck of the connection.
func (k *connChecker) check() error {
	if k.rc == nil {
		return nil
	}
	if err := k.rc.Read(k.peek); err != nil {
		return err
	}
	switch {
	case errors.Is(k.sysErr, syscall.EAGAIN) || errors.Is(k.sysErr, syscall.EWOULDBLOCK):
		return nil
	case k.sysErr != nil:
		return k.sysErr
	case k.n == 0:
		return io.EOF
	}
	return errUnexpectedRead
}

//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package conn

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// connChecker checks one connection without a round trip, again and
// again (before each statement, and before each HS2HTTP request on its
// keep-alive connection), allocating nothing per check: it peeks one byte
// without blocking; EOF or a reset means the peer is gone, data means the
// stream is out of step, EAGAIN means the connection is idle and alive. A
// connection that offers no raw file descriptor is taken as alive.
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

// check peeks at the connection.
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

//go:build linux && !mips && !mipsle && !mips64 && !mips64le && !sparc64

package impalad

import (
	"context"
	"fmt"
	"io"
	"net"
	"syscall"
)

// listen binds a TCP listener with SO_REUSEPORT, so that reservePort can
// bind the same port before the listener closes.
func listen(addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	return lc.Listen(context.Background(), "tcp", addr)
}

// soReusePort is Linux's SO_REUSEPORT, which package syscall does not
// name: 15 on the architectures this file builds for (mips and sparc use
// another value and take reserve_other.go).
const soReusePort = 15

// reservePort binds a socket that never listens to the address of ln, which
// is about to be closed (it must not be closed yet: between its close and
// the bind another socket could take the port). While it is open,
// connection attempts to the port are refused by the kernel exactly as with
// a closed port (nobody listens), yet neither a listener bound to port 0
// nor the local end of an outgoing connection (another test's, on a busy
// machine) can take the port; a listener of listen, with SO_REUSEPORT as
// the reservation has, can bind it again, so Restart gets its port back.
func reservePort(ln net.Listener) (io.Closer, error) {
	ta, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		return nil, fmt.Errorf("impalad: reserve port: %T is not a TCP address", ln.Addr())
	}
	var sa syscall.Sockaddr
	family := syscall.AF_INET
	if ip4 := ta.IP.To4(); ip4 != nil {
		s := &syscall.SockaddrInet4{Port: ta.Port}
		copy(s.Addr[:], ip4)
		sa = s
	} else {
		family = syscall.AF_INET6
		s := &syscall.SockaddrInet6{Port: ta.Port}
		copy(s.Addr[:], ta.IP.To16())
		sa = s
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("impalad: reserve port %s: %w", ta, err)
	}
	for _, opt := range []int{syscall.SO_REUSEADDR, soReusePort} {
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, opt, 1); err != nil {
			_ = syscall.Close(fd) // given up: err is the one returned
			return nil, fmt.Errorf("impalad: reserve port %s: %w", ta, err)
		}
	}
	if err := syscall.Bind(fd, sa); err != nil {
		_ = syscall.Close(fd) // given up: err is the one returned
		return nil, fmt.Errorf("impalad: reserve port %s: %w", ta, err)
	}
	return fdCloser(fd), nil
}

type fdCloser int

func (c fdCloser) Close() error { return syscall.Close(int(c)) }

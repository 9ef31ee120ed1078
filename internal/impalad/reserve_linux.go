//go:build linux

package impalad

import (
	"fmt"
	"io"
	"net"
	"syscall"
)

// reservePort binds a socket that never listens to the address of ln, which
// has just been closed. While it is open, connection attempts to the port
// are refused by the kernel exactly as with a closed port (nobody listens),
// yet neither a listener bound to port 0 nor the local end of an outgoing
// connection (another test's, on a busy machine) can take the port; a
// listener with SO_REUSEADDR, as Go's are, can bind it again, so Restart
// gets its port back.
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
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("impalad: reserve port %s: %w", ta, err)
	}
	if err := syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("impalad: reserve port %s: %w", ta, err)
	}
	return fdCloser(fd), nil
}

type fdCloser int

func (c fdCloser) Close() error { return syscall.Close(int(c)) }

//go:build !linux || mips || mipsle || mips64 || mips64le || sparc64

package impalad

import (
	"io"
	"net"
)

// reservePort does nothing here: a Restart may then find its port taken on
// a busy machine.
func reservePort(net.Listener) (io.Closer, error) { return nil, nil }

// listen is net.Listen.
func listen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }

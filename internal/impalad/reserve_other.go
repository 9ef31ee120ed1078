//go:build !linux

package impalad

import (
	"io"
	"net"
)

// reservePort does nothing off Linux: a Restart may then find its port taken
// on a busy machine.
func reservePort(net.Listener) (io.Closer, error) { return nil, nil }

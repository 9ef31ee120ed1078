package sasl_test

import (
	"net"
	"testing"

	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/internal/sasltest"
	"github.com/impalalb/impalalb/internal/saslwire"
)

func TestMain(m *testing.M) { sasltest.Main(m) }

// script is a fake server: it reads the client's START and initial
// response, writes reply, and drains whatever comes next until the client
// closes. It returns the messages it read.
func script(t *testing.T, c net.Conn, reply []byte) <-chan []saslwire.Message {
	t.Helper()
	return scriptThen(t, c, reply, false)
}

// scriptThen is script that closes the connection right after the reply
// when closeAfter is set.
func scriptThen(t *testing.T, c net.Conn, reply []byte, closeAfter bool) <-chan []saslwire.Message {
	t.Helper()
	got := make(chan []saslwire.Message, 1)
	go func() {
		var msgs []saslwire.Message
		defer func() { got <- msgs }()
		for range 2 {
			m, err := saslwire.ReadMessage(c, sasl.DefaultMaxNegotiationSize)
			if err != nil {
				return
			}
			msgs = append(msgs, m)
		}
		if _, err := c.Write(reply); err != nil || closeAfter {
			_ = c.Close()
			return
		}
		for {
			m, err := saslwire.ReadMessage(c, sasl.DefaultMaxNegotiationSize)
			if err != nil {
				return
			}
			msgs = append(msgs, m)
		}
	}()
	return got
}

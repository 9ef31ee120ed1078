package saslserver_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/internal/saslserver"
	"github.com/impalalb/impalalb/internal/sasltest"
	"github.com/impalalb/impalalb/internal/saslwire"
)

// FuzzAccept runs the server side against arbitrary client bytes.
func FuzzAccept(f *testing.F) {
	f.Add(append(sasltest.Msg(sasl.StatusStart, "PLAIN"), sasltest.Msg(sasl.StatusOK, "\x00alice\x00"+sasltest.Password)...))
	f.Add(append(sasltest.Msg(sasl.StatusStart, "PLAIN"), sasltest.Msg(sasl.StatusComplete, "\x00alice\x00wrong")...))
	f.Add(append(sasltest.Msg(sasl.StatusStart, "XOR-TEST"), sasltest.Msg(sasl.StatusOK, "hello")...))
	f.Add(sasltest.Msg(sasl.StatusStart, "GSSAPI"))
	f.Add([]byte{0x80, 0x01, 0x00, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		mechs := plainMechs()
		mechs["XOR-TEST"] = func() saslserver.Mechanism { return &sasltest.XORServer{} }
		var (
			tr   *saslwire.Transport
			user string
			err  error
		)
		allocated := sasltest.BytesAllocated(func() {
			tr, user, err = saslserver.Accept(sasltest.NewMemConn(data), mechs, sasl.Config{MaxNegotiationSize: 1024})
		})
		require.LessOrEqual(t, allocated, uint64(4*len(data)+sasltest.AllocSlack))
		if err == nil {
			require.True(t, tr.IsOpen())
			require.NotEmpty(t, user)
			return
		}
		var he *sasl.HandshakeError
		require.ErrorAs(t, err, &he)
		require.True(t, strings.HasPrefix(err.Error(), "sasl: "))
		require.Nil(t, tr)
	})
}

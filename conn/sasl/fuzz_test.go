package sasl_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/internal/sasltest"
)

// echoMech is a client mechanism that answers every challenge with itself
// and is done when the challenge is "done".
type echoMech struct{}

func (echoMech) Name() string                                  { return "ECHO-TEST" }
func (echoMech) Start(context.Context, string) ([]byte, error) { return []byte("start"), nil }
func (echoMech) Step(_ context.Context, ch []byte) ([]byte, bool, error) {
	if len(ch) > 100 {
		return nil, false, errors.New("echo: challenge too long")
	}
	return ch, string(ch) == "done", nil
}

// FuzzClientHandshake runs a client handshake against arbitrary server
// bytes.
func FuzzClientHandshake(f *testing.F) {
	f.Add(sasltest.Msg(sasl.StatusComplete, ""), false)
	f.Add(sasltest.Msg(sasl.StatusBad, "no"), false)
	f.Add(append(sasltest.Msg(sasl.StatusOK, "x"), sasltest.Msg(sasl.StatusOK, "done")...), true)
	f.Add(append(sasltest.Msg(sasl.StatusOK, "done"), sasltest.Msg(sasl.StatusComplete, "")...), true)
	f.Add([]byte("HTTP/1.0 400\r\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, echo bool) {
		var mech sasl.Mechanism = sasl.NewPlain(testUser, testPassword)
		if echo {
			mech = echoMech{}
		}
		tr, err := sasl.NewClient(sasltest.NewMemConn(data), mech, sasl.Config{MaxNegotiationSize: 1024})
		require.NoError(t, err)
		allocated := sasltest.BytesAllocated(func() { err = tr.Handshake(context.Background(), "h") })
		require.LessOrEqual(t, allocated, uint64(4*len(data)+sasltest.AllocSlack))
		if err == nil {
			require.True(t, tr.IsOpen())
			return
		}
		var he *sasl.HandshakeError
		require.ErrorAs(t, err, &he)
		require.True(t, strings.HasPrefix(err.Error(), "sasl: "))
		require.NotContains(t, err.Error(), testPassword)
		require.False(t, tr.IsOpen())
	})
}

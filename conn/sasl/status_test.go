package sasl_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/internal/sasltest"
)

func TestStatusString(t *testing.T) {
	for st, want := range map[sasl.Status]string{
		sasl.StatusStart: "START", sasl.StatusOK: "OK", sasl.StatusBad: "BAD", sasl.StatusError: "ERROR",
		sasl.StatusComplete: "COMPLETE", 0: "Status(0)", 9: "Status(9)",
	} {
		require.Equal(t, want, st.String())
	}
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, sasl.Config{}.Validate())
	require.NoError(t, sasl.Config{}.Validate())
	require.ErrorContains(t, sasl.Config{MaxFrameSize: -1}.Validate(), "sasl: Config.MaxFrameSize")
	require.ErrorContains(t, sasl.Config{MaxNegotiationSize: -1}.Validate(), "sasl: Config.MaxNegotiationSize")
	_, err := sasl.NewClient(sasltest.NewMemConn(nil), sasl.NewPlain("u", "p"), sasl.Config{MaxFrameSize: -5})
	require.ErrorContains(t, err, "MaxFrameSize")
}

func TestNotOpen(t *testing.T) {
	tr, err := sasl.NewClient(sasltest.NewMemConn(nil), sasl.NewPlain("u", "p"), sasl.Config{})
	require.NoError(t, err)
	require.False(t, tr.IsOpen())
	require.ErrorIs(t, tr.Open(), sasl.ErrNotOpen)
	_, err = tr.Write([]byte("x"))
	require.ErrorIs(t, err, sasl.ErrNotOpen)
	_, err = tr.Read(make([]byte, 1))
	require.ErrorIs(t, err, sasl.ErrNotOpen)
	require.ErrorIs(t, tr.Flush(sasltest.Ctx(t)), sasl.ErrNotOpen)
	require.NoError(t, tr.Close())
	require.ErrorIs(t, tr.Handshake(sasltest.Ctx(t), "h"), sasl.ErrNotOpen, "no handshake after Close")
}

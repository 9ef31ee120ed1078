package sasl_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn/sasl"
)

func TestPlainClient(t *testing.T) {
	p := sasl.NewPlain("bob", "hunter2")
	require.Equal(t, "PLAIN", p.Name())
	require.False(t, p.Complete())
	ir, err := p.Start(context.Background(), "ignored")
	require.NoError(t, err)
	require.Equal(t, []byte("\x00bob\x00hunter2"), ir)
	require.True(t, p.Complete())

	resp, done, err := p.Step(context.Background(), nil)
	require.NoError(t, err)
	require.True(t, done)
	require.Nil(t, resp)
	_, _, err = p.Step(context.Background(), []byte("challenge"))
	require.ErrorContains(t, err, "sasl: PLAIN: unexpected challenge of 9 bytes")

	m, err := sasl.PlainFactory("bob", "hunter2")()
	require.NoError(t, err)
	require.NotSame(t, p, m)
	require.Equal(t, "PLAIN", m.Name())
}

func TestPlainClientErrors(t *testing.T) {
	for _, tc := range []struct{ user, password, want string }{
		{"", "pw-secret", "sasl: PLAIN: empty user name"},
		{"a\x00b", "pw-secret", "sasl: PLAIN: user name contains a NUL byte"},
		{"bob", "pw\x00secret", "sasl: PLAIN: password contains a NUL byte"},
	} {
		_, err := sasl.NewPlain(tc.user, tc.password).Start(context.Background(), "")
		require.EqualError(t, err, tc.want)
		require.NotContains(t, err.Error(), "secret")
	}
}

func TestPlainRedaction(t *testing.T) {
	p := sasl.NewPlain("bob", "hunter2")
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, p)
		require.NotContains(t, out, "hunter2", verb)
		require.Contains(t, out, "bob", verb)
	}
	require.Equal(t, `PLAIN(user="bob")`, p.String())
}

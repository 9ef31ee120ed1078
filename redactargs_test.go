package impalalb

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/secret"
)

// hide replaces the secret, its literal and the pieces of it that a
// window of a long line leaves at an ellipsis; scrub keeps the error's
// kind.
func TestArgSecretsHideAndScrub(t *testing.T) {
	var s argSecrets
	s.add(`'it\'s-a-Secret-42'`, `it's-a-Secret-42`)
	for in, want := range map[string]string{
		`where pw = 'it\'s-a-Secret-42' and`:   `where pw = <redacted> and`,
		`value it's-a-Secret-42 is not a date`: `value <redacted> is not a date`,
		"...a-Secret-42' from t\n   ^":         "...<redacted> from t\n   ^",
		"select x where pw = 'it\\'s-a-Se...":  "select x where pw = <redacted>...",
		"...ret-42' and y = 1 some other text": "...<redacted> and y = 1 some other text",
		"nothing to hide here ...":             "nothing to hide here ...",
	} {
		require.Equal(t, want, s.hide(in), in)
	}

	ce := &conn.Error{Addr: "c1:21050", Op: conn.OpExecute, Sent: true, Err: conn.ErrOperationFailed,
		Message: "ParseException: Syntax error in line 1:\nselect 'it\\'s-a-Secret-42' x y\n"}
	for _, err := range []error{ce, fmt.Errorf("impalalb: %w", ce), &conn.MoveError{Cause: ce, Err: errors.New("no coordinator")}} {
		got := s.scrub(err)
		require.NotContains(t, got.Error(), "Secret-42")
		require.Contains(t, got.Error(), "c1:21050")
		var e *conn.Error
		require.True(t, errors.As(got, &e))
		require.NotContains(t, e.Message, "Secret-42")
		require.Equal(t, ce.Sent, e.Sent)
		require.ErrorIs(t, got, conn.ErrOperationFailed)
		require.Equal(t, conn.SafeToRetry(err), conn.SafeToRetry(got))
	}
	require.Contains(t, ce.Message, "Secret-42", "the original is not changed")
	plain := errors.New("nothing secret")
	require.Same(t, plain, s.scrub(plain))
	require.Nil(t, s.scrub(nil))
	var none argSecrets
	require.Same(t, error(ce), none.scrub(ce))
}

// Interpolate writes a secret.Value as the string it holds and names it
// among the texts to hide.
func TestInterpolateSecret(t *testing.T) {
	pw := secret.New("pa'ss\x01")
	q, hidden, err := interpolate("select ? , ?", namedValues([]driver.Value{pw, "x"}))
	require.NoError(t, err)
	require.Equal(t, `select 'pa\'ss\001' , 'x'`, q)
	require.Equal(t, argSecrets{`'pa\'ss\001'`, `pa\'ss\001`, "pa'ss\x01"}, hidden)
	q, err = Interpolate("select ?", namedValues([]driver.Value{&pw}))
	require.NoError(t, err)
	require.Equal(t, `select 'pa\'ss\001'`, q)
	nv := namedValues([]driver.Value{&pw})[0]
	require.NoError(t, checkNamedValue(&nv))
	require.Equal(t, pw, nv.Value)
}

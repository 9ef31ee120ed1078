package impalalb_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/secret"
)

// Impala echoes the statement in its errors, and an argument is part of
// the statement: passed as a string, a password shows in the error of a
// statement that fails to parse; passed as a secret.Value it does not,
// in the error's text nor in its *conn.Error, which keeps its kind.
func TestSecretArgumentsNotInErrors(t *testing.T) {
	const pw = "Arg-Passw0rd-77"
	forEachProtocol(t, func(t *testing.T, p impalalb.Protocol) {
		co := startCoord(t, impalad.Config{})
		db, _ := openDB(t, testConfig(p, co))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, q := range []string{
			"select ? x y", // the whole line in the error
			"select 1 from t where a = 'some text to make the line long' and pw = ? and b = c d e", // a window of it
			"select ? from t where the error is far to the right of the argument, at this x y z",
		} {
			_, err := db.ExecContext(ctx, q, pw)
			require.Error(t, err)
			require.Contains(t, err.Error(), "ParseException")
			if strings.Contains(q, "select ? x y") {
				require.Contains(t, err.Error(), pw, "a string argument is in the echo: the reason for secret.Value")
			}

			_, err = db.ExecContext(ctx, q, secret.New(pw))
			require.Error(t, err)
			require.Contains(t, err.Error(), "ParseException")
			for k := 4; k <= len(pw); k++ {
				for i := 0; i+k <= len(pw); i++ {
					if i == 0 || i+k == len(pw) {
						require.NotContains(t, err.Error(), pw[i:i+k], "%q", q)
					}
				}
			}
			var ce *conn.Error
			require.True(t, errors.As(err, &ce))
			require.NotContains(t, ce.Message, pw)
			require.ErrorIs(t, err, conn.ErrOperationFailed)

			rows, err := db.QueryContext(ctx, q, secret.New(pw))
			if err == nil {
				rows.Close()
			}
			require.Error(t, err)
			require.NotContains(t, err.Error(), pw)
		}
		// A statement that runs takes the secret as a string.
		var got string
		require.NoError(t, db.QueryRowContext(ctx, "select ?", secret.New(pw)).Scan(&got))
		require.Equal(t, pw, got)
	})
}

package impalalb

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParseFormatDSN checks that FormatDSN is the inverse of ParseDSN: for
// any DSN that parses, its formatted form parses to the same Config and
// formats to itself.
func FuzzParseFormatDSN(f *testing.F) {
	for _, tc := range dsnCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, dsn string) {
		if len(dsn) > 2000 {
			t.Skip()
		}
		c1, err := ParseDSN(dsn)
		if err != nil {
			require.Nil(t, c1)
			return
		}
		s1 := c1.FormatDSN()
		c2, err := ParseDSN(s1)
		require.NoError(t, err, "%q formatted as %q", dsn, s1)
		require.Equal(t, c1, c2, "%q formatted as %q", dsn, s1)
		require.Equal(t, s1, c2.FormatDSN())
		if !c1.Password.IsZero() {
			require.NotContains(t, c1.String(), ":"+escapeDSN(c1.Password.Reveal(), false)+"@")
		}
	})
}

// FuzzDSNPasswordNotInErrors checks that no error shows the password,
// whether it is encoded as it should be or written raw.
func FuzzDSNPasswordNotInErrors(f *testing.F) {
	f.Add("s3cret/x", "h/db?tls=1")
	f.Add("pa?ss", "h?a=b")
	f.Add("12,Secr3t:0/x", "h")
	f.Add("%zzSecr3t", "h")
	f.Add("Secr3t", "h:99999")
	f.Add("Secr3t", "h?auth=none")
	f.Fuzz(func(t *testing.T, password, rest string) {
		if len(password) < 6 || len(password)+len(rest) > 1000 {
			t.Skip()
		}
		check := func(dsn, placeholderDSN string) {
			_, err := ParseDSN(dsn)
			if err == nil {
				return
			}
			// The same DSN with another password: if its error already holds
			// the password text (as a common word), the check says nothing.
			_, err2 := ParseDSN(placeholderDSN)
			if err2 != nil && strings.Contains(err2.Error(), password) {
				return
			}
			require.NotContains(t, err.Error(), password, "dsn %q", dsn)
		}
		const other = "QqQqQqQqQ"
		check("impala://user:"+escapeDSN(password, false)+"@"+rest, "impala://user:"+other+"@"+rest)
		check("impala://user:"+password+"@"+rest, "impala://user:"+other+"@"+rest)
	})
}

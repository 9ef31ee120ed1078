package saslserver_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/saslserver"
)

func TestPlainServer(t *testing.T) {
	check := func(user, password string) error {
		if user == "bob" && password == "hunter2" {
			return nil
		}
		return fmt.Errorf("no such user or wrong password")
	}
	newSM := saslserver.NewPlain(check)
	tests := []struct {
		name     string
		resp     []string // responses in order; the last one decides
		wantUser string
		wantErr  string
	}{
		{name: "good", resp: []string{"\x00bob\x00hunter2"}, wantUser: "bob"},
		{name: "authzid same as user", resp: []string{"bob\x00bob\x00hunter2"}, wantUser: "bob"},
		{name: "empty password checked", resp: []string{"\x00bob\x00"}, wantErr: `authentication failed for user "bob"`},
		{name: "no initial response", resp: []string{"", "\x00bob\x00hunter2"}, wantUser: "bob"},
		{name: "empty twice", resp: []string{"", ""}, wantErr: "malformed message"},
		{name: "wrong password", resp: []string{"\x00bob\x00nope"}, wantErr: `sasl: PLAIN: authentication failed for user "bob": no such user or wrong password`},
		{name: "other authzid", resp: []string{"root\x00bob\x00hunter2"}, wantErr: `user "bob" may not act as "root"`},
		{name: "too few parts", resp: []string{"bob\x00hunter2"}, wantErr: "malformed message"},
		{name: "too many parts", resp: []string{"\x00bob\x00hunter2\x00x"}, wantErr: "malformed message"},
		{name: "empty user", resp: []string{"\x00\x00hunter2"}, wantErr: "empty user name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sm := newSM()
			require.Equal(t, "PLAIN", sm.Name())
			var (
				done bool
				err  error
				ch   []byte
			)
			for i, r := range tc.resp {
				ch, done, err = sm.Step([]byte(r))
				if i < len(tc.resp)-1 {
					require.NoError(t, err)
					require.False(t, done)
					require.Empty(t, ch)
				}
			}
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.NotContains(t, err.Error(), "hunter2")
				require.False(t, done)
				require.Empty(t, sm.User())
				return
			}
			require.NoError(t, err)
			require.True(t, done)
			require.Empty(t, ch)
			require.Equal(t, tc.wantUser, sm.User())
			require.NotContains(t, fmt.Sprintf("%v %#v", sm, sm), "hunter2")
		})
	}
	_, _, err := saslserver.NewPlain(nil)().Step([]byte("\x00bob\x00hunter2"))
	require.ErrorContains(t, err, "no credential check")
}

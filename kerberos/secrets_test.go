package kerberos_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/kdctest"
	"github.com/impalalb/impalalb/kerberos"
)

// TestTicketsNeverPrint: a Client that holds a TGT and a service ticket,
// and a Mechanism in the middle of its handshake (ticket, authenticator
// and its subkey), print none of their secret bytes under any fmt verb,
// through slog's handlers or encoding/json. (internal/reliability sweeps
// every type that holds a password the same way.)
func TestTicketsNeverPrint(t *testing.T) {
	k := startKDC(t, kdctest.Options{})
	c := newClient(t, passwordConfig(k))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, c.Login(ctx))
	m := c.Mechanism()
	_, err := m.Start(ctx, testHosts[0])
	require.NoError(t, err)

	var forms []string
	n := 0
	for _, s := range kerberos.SecretBytes(c, m) {
		if len(s) < 12 {
			continue // no subkey
		}
		n++
		forms = append(forms, hex.EncodeToString(s), base64.StdEncoding.EncodeToString(s),
			strings.Trim(fmt.Sprint(s), "[]"), string(s[:12]))
	}

	var texts []string
	// (Not in an unexported field of another struct: there fmt calls no
	// method and reads the fields of a live Client without its lock;
	// internal/reliability sweeps that placement once goroutines ended.)
	for _, v := range []any{c, m} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%t", "%x", "%X", "%o", "%e", "%c", "%U"} {
			texts = append(texts, fmt.Sprintf(verb, v), fmt.Sprintf(verb, []any{v}), fmt.Sprintf(verb, struct{ B any }{v}))
		}
		var b bytes.Buffer
		slog.New(slog.NewTextHandler(&b, nil)).Info("v", "v", v)
		slog.New(slog.NewJSONHandler(&b, nil)).Info("v", "v", v)
		if j, err := json.Marshal(v); err == nil {
			b.Write(j)
		}
		texts = append(texts, b.String())
	}
	for _, text := range texts {
		for _, f := range forms {
			require.NotContains(t, text, f)
		}
	}
	require.GreaterOrEqual(t, n, 5, "the TGT and the service ticket, each with its key, twice")
}

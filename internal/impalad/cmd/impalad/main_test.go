package main

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
)

func TestReadUsers(t *testing.T) {
	p := filepath.Join(t.TempDir(), "users.txt")
	require.NoError(t, os.WriteFile(p, []byte("# comment\nalice:pw1\n\nbob:p:w\n"), 0o600))
	users, err := readUsers(p)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"alice": "pw1", "bob": "p:w"}, users)

	require.NoError(t, os.WriteFile(p, []byte("nopassword\n"), 0o600))
	_, err = readUsers(p)
	require.ErrorContains(t, err, "line 1")
	require.NotContains(t, err.Error(), "nopassword")
}

func TestRunBadFlags(t *testing.T) {
	require.Error(t, run([]string{"--no_such_flag"}))
	require.Error(t, run([]string{"--tls_cert=missing.pem", "--tls_key=missing.key"}))
	require.Error(t, run([]string{"--ldap_users=" + filepath.Join(t.TempDir(), "none")}))
	require.Error(t, run([]string{"--keytab=" + filepath.Join(t.TempDir(), "none")}))
	require.Error(t, run([]string{"--keytab=x", "--kerberos_qop=bogus"}))
	require.Error(t, run([]string{"--coordinators=0"}))
	require.ErrorContains(t, run([]string{"--hs2_http_port=0", "--jwks_file_path=" + filepath.Join(t.TempDir(), "none")}), "JWT authentication should be only used with TLS enabled.")
	require.ErrorContains(t, run([]string{"--hs2_http_port=0", "--jwt_allow_without_tls", "--jwks_file_path=" + filepath.Join(t.TempDir(), "none")}), "JWKS file")
}

// startForWaitEnd starts n coordinators as run does, each telling exited
// when its graceful shutdown ends.
func startForWaitEnd(t *testing.T, n int) ([]*impalad.Coordinator, chan struct{}) {
	exited := make(chan struct{}, n)
	var cos []*impalad.Coordinator
	for range n {
		co, err := impalad.Start(impalad.Config{DisableBeeswax: true, ShutdownGracePeriod: 50 * time.Millisecond,
			ShutdownCheckInterval: 10 * time.Millisecond, OnShutdownDone: func() { exited <- struct{}{} }})
		require.NoError(t, err)
		t.Cleanup(func() { co.Close() })
		cos = append(cos, co)
	}
	return cos, exited
}

// TestWaitEndOnShutdownStatement: ":shutdown()" from a client ends the
// process, as it ends Impala's, with no signal.
func TestWaitEndOnShutdownStatement(t *testing.T) {
	cos, exited := startForWaitEnd(t, 1)
	ended := make(chan struct{})
	go func() {
		waitEnd(cos, make(chan os.Signal), exited)
		close(ended)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := conn.Dial(ctx, cos[0].HS2Addr(), conn.Options{})
	require.NoError(t, err)
	defer s.Close()
	op, err := s.Execute(ctx, ":shutdown()", nil)
	require.NoError(t, err)
	require.NoError(t, op.Close(ctx))
	select {
	case <-ended:
	case <-ctx.Done():
		t.Fatal("the process did not end after :shutdown()")
	}
}

// TestWaitEndOnSIGTERM: SIGTERM shuts every coordinator down; the process
// ends when the last has exited.
func TestWaitEndOnSIGTERM(t *testing.T) {
	cos, exited := startForWaitEnd(t, 2)
	sig := make(chan os.Signal, 1)
	ended := make(chan struct{})
	go func() {
		waitEnd(cos, sig, exited)
		close(ended)
	}()
	sig <- syscall.SIGTERM
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the process did not end after SIGTERM")
	}
	for _, co := range cos {
		require.True(t, co.ShuttingDown())
		select {
		case <-co.ShutdownDone():
		default:
			t.Fatal("ended before every coordinator exited")
		}
	}
}

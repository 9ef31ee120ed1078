package kerberos_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jcmturner/goidentity/v6"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/service"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/kdctest"
	"github.com/impalalb/impalalb/kerberos"
	"github.com/impalalb/impalalb/secret"
)

// TestSPNEGO: a web server that asks for Negotiate (as Impala's with
// --webserver_require_spnego) gets a ticket for HTTP/<HostFQDN>@REALM,
// from a password login and from a credential cache, a POST's body sent
// again with it; one that does not ask gets none; a plain client is
// refused; a closed Client sends no ticket.
func TestSPNEGO(t *testing.T) {
	const web = "web1.impalalb.test"
	k := kdctest.Start(t, kdctest.Options{ServiceName: kerberos.HTTPServiceName, Hosts: []string{web}})
	kt, err := keytab.Load(k.Keytab(web))
	require.NoError(t, err)
	var mu sync.Mutex
	var user, body string
	auth := spnego.SPNEGOKRB5Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		if id := goidentity.FromHTTPRequestContext(r); id != nil {
			user = id.UserName()
		}
		body = string(b)
		mu.Unlock()
		io.WriteString(w, "ok")
	}), kt, service.DecodePAC(false)) // MIT's PAC has no Active Directory logon info
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			// As Impala's web server (be/src/util/webserver.cc,
			// RunSpnegoStep): a bare "Negotiate" challenge.
			w.Header().Set("WWW-Authenticate", "Negotiate")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, "Must authenticate with SPNEGO.")
			return
		}
		auth.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	open := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, "a ticket to a server that did not ask")
			return
		}
		io.WriteString(w, "open")
	}))
	t.Cleanup(open.Close)

	type doer interface {
		Do(*http.Request) (*http.Response, error)
	}
	send := func(d doer, method, url, payload string) (int, string, error) {
		var rd io.Reader
		if payload != "" {
			rd = strings.NewReader(payload)
		}
		req, err := http.NewRequest(method, url, rd)
		require.NoError(t, err)
		resp, err := d.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b), nil
	}
	ccache := filepath.Join(t.TempDir(), "ccache")
	k.Kinit(t, ccache)
	for _, c := range []struct {
		name string
		cfg  kerberos.Config
	}{
		{"password", kerberos.Config{Krb5Conf: k.Krb5Conf, Principal: k.UserPrincipal(), Password: secret.New(k.Password), HostFQDN: web}},
		{"credential cache", kerberos.Config{Krb5Conf: k.Krb5Conf, CCache: "FILE:" + ccache, HostFQDN: web}},
	} {
		t.Run(c.name, func(t *testing.T) {
			kc, err := kerberos.NewClient(c.cfg)
			require.NoError(t, err)
			t.Cleanup(func() { kc.Close() })
			sc := kc.SPNEGO(nil)
			code, got, err := send(sc, http.MethodGet, srv.URL+"/backends?json", "")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, code, got)
			require.Equal(t, "ok", got)
			mu.Lock()
			require.Equal(t, k.User, user)
			mu.Unlock()
			code, got, err = send(sc, http.MethodPost, srv.URL+"/form", "a=1&b=2")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, code, got)
			mu.Lock()
			require.Equal(t, "a=1&b=2", body, "the body is sent again with the ticket")
			mu.Unlock()
			code, got, err = send(sc, http.MethodGet, open.URL+"/healthz", "")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, code, got)
			require.Equal(t, "open", got)

			require.NoError(t, kc.Close())
			_, _, err = send(sc, http.MethodGet, srv.URL+"/backends?json", "")
			require.ErrorIs(t, err, kerberos.ErrClosed)
		})
	}
	code, _, err := send(http.DefaultClient, http.MethodGet, srv.URL+"/backends?json", "")
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, code)
}

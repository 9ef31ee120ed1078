package kerberos_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jcmturner/goidentity/v6"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/service"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/kdctest"
	"github.com/impalalb/impalalb/kerberos"
)

// TestSPNEGO: a web server that asks for Negotiate (as Impala's with
// --webserver_require_spnego) gets a ticket for HTTP/<HostFQDN>@REALM
// through gokrb5's SPNEGO client; one that does not ask gets none; a
// plain client is refused.
func TestSPNEGO(t *testing.T) {
	const web = "web1.impalalb.test"
	k := kdctest.Start(t, kdctest.Options{ServiceName: kerberos.HTTPServiceName, Hosts: []string{web}})
	kt, err := keytab.Load(k.Keytab(web))
	require.NoError(t, err)
	var user string
	auth := spnego.SPNEGOKRB5Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := goidentity.FromHTTPRequestContext(r); id != nil {
			user = id.UserName()
		}
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
		require.Empty(t, r.Header.Get("Authorization"), "no ticket to a server that does not ask")
		io.WriteString(w, "open")
	}))
	t.Cleanup(open.Close)

	kc, err := kerberos.NewClient(kerberos.Config{Krb5Conf: k.Krb5Conf, Principal: k.UserPrincipal(), Password: k.Password, HostFQDN: web})
	require.NoError(t, err)
	t.Cleanup(func() { kc.Close() })
	c := kc.SPNEGO(nil)
	get := func(d interface {
		Do(*http.Request) (*http.Response, error)
	}, url string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		require.NoError(t, err)
		resp, err := d.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	code, body := get(c, srv.URL+"/backends?json")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "ok", body)
	require.Equal(t, k.User, user)
	code, body = get(c, open.URL+"/healthz")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "open", body)
	code, _ = get(http.DefaultClient, srv.URL+"/backends?json")
	require.Equal(t, http.StatusUnauthorized, code)
}

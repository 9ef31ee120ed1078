package kerberos_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/kdctest"
	"github.com/impalalb/impalalb/internal/krbacceptor"
	"github.com/impalalb/impalalb/kerberos"
)

// mitScript is a GSS-API peer built on MIT krb5 through python3-gssapi. It
// speaks hex lines on stdin/stdout. As acceptor it accepts our initial
// token, answers the AP-REP, runs the RFC 4752 security-layer exchange and
// echoes one data message upper-cased. As initiator it does the same from
// the client side against our acceptor.
const mitScript = `
import sys, gssapi

def rd():
    line = sys.stdin.readline()
    if not line:
        sys.exit(3)
    return bytes.fromhex(line.strip())

def wr(b):
    sys.stdout.write((b or b"").hex() + "\n")
    sys.stdout.flush()

def info(s):
    sys.stdout.write(s + "\n")
    sys.stdout.flush()

mode, layers = sys.argv[1], int(sys.argv[2])
if mode == "accept":
    ctx = gssapi.SecurityContext(usage="accept")
    out = ctx.step(rd())
    if not ctx.complete:
        sys.exit(4)
    wr(out)
    info(str(ctx.initiator_name))
    info(str(ctx.target_name))
    if rd() != b"":
        sys.exit(5)
    size = 0 if layers == 1 else 65536
    wr(ctx.wrap(bytes([layers, size >> 16 & 255, size >> 8 & 255, size & 255]), False).message)
    wr(ctx.unwrap(rd()).message)
    if layers != 1:
        m = ctx.unwrap(rd())
        info("encrypted" if m.encrypted else "plain")
        wr(ctx.wrap(m.message.upper(), m.encrypted).message)
else:
    name = gssapi.Name(sys.argv[3], gssapi.NameType.hostbased_service)
    fl = [gssapi.RequirementFlag.mutual_authentication, gssapi.RequirementFlag.integrity,
          gssapi.RequirementFlag.confidentiality, gssapi.RequirementFlag.out_of_sequence_detection]
    ctx = gssapi.SecurityContext(name=name, usage="initiate", flags=fl)
    wr(ctx.step())
    ctx.step(rd())
    if not ctx.complete:
        sys.exit(4)
    offer = ctx.unwrap(rd()).message
    choice = layers if offer[0] & layers else 0
    size = 0 if choice == 1 else 65536
    wr(ctx.wrap(bytes([choice, size >> 16 & 255, size >> 8 & 255, size & 255]), False).message)
    if choice not in (0, 1):
        wr(ctx.wrap(b"select 1", choice == 4).message)
        m = ctx.unwrap(rd())
        info(("encrypted " if m.encrypted else "plain ") + m.message.decode())
`

// mitPeer runs mitScript.
type mitPeer struct {
	t   *testing.T
	in  io.WriteCloser
	out *bufio.Reader
	cmd *exec.Cmd
}

func startMIT(t *testing.T, k *kdctest.KDC, env []string, args ...string) *mitPeer {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Fatalf("MIT cross-check needs Debian's python3 with python3-gssapi: apt-get install -y python3-gssapi")
	}
	if out, err := exec.Command(py, "-c", "import gssapi").CombinedOutput(); err != nil {
		t.Fatalf("MIT cross-check needs python3-gssapi (apt-get install -y python3-gssapi): %v\n%s", err, out)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "mitpeer.py")
	require.NoError(t, os.WriteFile(script, []byte(mitScript), 0o600))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, py, append([]string{script}, args...)...)
	cmd.Env = append(append(k.Env(), "KRB5RCACHEDIR="+dir), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &mitPeer{t: t, in: in, out: bufio.NewReader(out), cmd: cmd}
	t.Cleanup(func() {
		_ = in.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("MIT peer: %v\n%s", err, stderr.String())
		}
	})
	return p
}

func (p *mitPeer) send(b []byte) {
	_, err := fmt.Fprintf(p.in, "%s\n", hex.EncodeToString(b))
	require.NoError(p.t, err)
}

func (p *mitPeer) line() string {
	s, err := p.out.ReadString('\n')
	require.NoError(p.t, err, "MIT peer ended early")
	return strings.TrimSpace(s)
}

func (p *mitPeer) recv() []byte {
	b, err := hex.DecodeString(p.line())
	require.NoError(p.t, err)
	return b
}

// TestMITAcceptsOurInitiator: MIT's GSS-API acceptor accepts our client's
// initial token, our client verifies MIT's AP-REP, and both sides
// understand each other's wrap tokens in the SASL security-layer exchange
// and in data frames.
func TestMITAcceptsOurInitiator(t *testing.T) {
	k := startKDC(t, kdctest.Options{})
	for _, tc := range []struct {
		name   string
		layer  kerberos.QOP
		fqdn   string
		target string
	}{
		{"auth, LB principal", kerberos.QOPAuth, k.LBHost, k.LBPrincipal()},
		{"auth-int, host principal", kerberos.QOPAuthInt, "", k.HostPrincipal(testHosts[0])},
		{"auth-conf, LB principal", kerberos.QOPAuthConf, k.LBHost, k.LBPrincipal()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := passwordConfig(k)
			cfg.HostFQDN = tc.fqdn
			c := newClient(t, cfg)
			p := startMIT(t, k, []string{"KRB5_KTNAME=FILE:" + k.Keytab(testHosts[0])}, "accept", fmt.Sprint(int(tc.layer)))
			ctx := context.Background()
			m := c.Mechanism()
			tok, err := m.Start(ctx, testHosts[0])
			require.NoError(t, err)
			p.send(tok)
			rep := p.recv()
			require.Equal(t, k.UserPrincipal(), p.line())
			require.Equal(t, tc.target, p.line())
			resp, done, err := m.Step(ctx, rep)
			require.NoError(t, err)
			require.False(t, done)
			p.send(resp)
			resp, done, err = m.Step(ctx, p.recv())
			require.NoError(t, err)
			require.True(t, done)
			p.send(resp)
			got := p.recv()
			require.Equal(t, []byte{byte(tc.layer)}, got[:1], "MIT saw our layer choice")
			require.Equal(t, tc.layer, m.QOP())
			if tc.layer == kerberos.QOPAuth {
				return
			}
			w, err := m.Wrap([]byte("select 1"))
			require.NoError(t, err)
			p.send(w)
			if tc.layer == kerberos.QOPAuthConf {
				require.Equal(t, "encrypted", p.line())
			} else {
				require.Equal(t, "plain", p.line())
			}
			back, err := m.Unwrap(p.recv())
			require.NoError(t, err)
			require.Equal(t, "SELECT 1", string(back))
		})
	}
}

// TestOurAcceptorAcceptsMIT: MIT's GSS-API initiator (with a credential
// cache from kinit) authenticates to our acceptor, verifies our AP-REP and
// exchanges wrap tokens with it.
func TestOurAcceptorAcceptsMIT(t *testing.T) {
	k := startKDC(t, kdctest.Options{})
	cc := filepath.Join(t.TempDir(), "krb5cc")
	k.Kinit(t, cc)
	for _, layer := range []kerberos.QOP{kerberos.QOPAuth, kerberos.QOPAuthInt, kerberos.QOPAuthConf} {
		t.Run(layer.String(), func(t *testing.T) {
			a := newAcceptor(t, krbacceptor.Config{KeytabPath: k.Keytab(testHosts[0]), QOP: layer})
			s := a.NewMechanism()
			p := startMIT(t, k, []string{"KRB5CCNAME=FILE:" + cc}, "initiate", fmt.Sprint(int(layer)), "impala@"+k.LBHost)
			ch, done, err := s.Step(p.recv())
			require.NoError(t, err)
			require.False(t, done)
			p.send(ch)
			ch, done, err = s.Step([]byte{})
			require.NoError(t, err)
			require.False(t, done)
			p.send(ch)
			_, done, err = s.Step(p.recv())
			require.NoError(t, err)
			require.True(t, done)
			require.Equal(t, k.UserPrincipal(), s.User())
			require.Equal(t, k.LBPrincipal(), s.ServicePrincipal())
			require.Equal(t, layer, s.QOP())
			if layer == kerberos.QOPAuth {
				return
			}
			msg, err := s.Unwrap(p.recv())
			require.NoError(t, err)
			require.Equal(t, "select 1", string(msg))
			w, err := s.Wrap([]byte("one row"))
			require.NoError(t, err)
			p.send(w)
			want := "plain one row"
			if layer == kerberos.QOPAuthConf {
				want = "encrypted one row"
			}
			require.Equal(t, want, p.line())
		})
	}
}

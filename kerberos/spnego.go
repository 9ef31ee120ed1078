package kerberos

import (
	"context"
	"encoding/base64"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/spnego"
)

// NegotiateHeader returns the value of an HTTP "Authorization: Negotiate"
// header for the coordinator whose host is host (RFC 4559; Impala's
// hs2-http port takes it, be/src/rpc/authentication.cc NegotiateAuth): a
// SPNEGO NegTokenInit carrying a Kerberos AP-REQ for
// ServiceName/<HostFQDN or host>@REALM, the same principal as the SASL
// mechanism's — with HostFQDN set, the load balancer's name, as
// impala-shell's -b. The service ticket comes from the cache or the KDC
// within ctx. It has the signature of conn.HTTPAuth. Errors are *Error
// values.
func (c *Client) NegotiateHeader(ctx context.Context, host string) (string, error) {
	spn, _, tok, _, err := c.apReq(ctx, host)
	if err != nil {
		return "", err
	}
	st := spnego.SPNEGOToken{Init: true, NegTokenInit: spnego.NegTokenInit{
		MechTypes:      []asn1.ObjectIdentifier{gssapi.OIDKRB5.OID()},
		MechTokenBytes: tok,
	}}
	b, err := st.Marshal()
	if err != nil {
		return "", newError("initiate", spn, ErrProtocol, err)
	}
	return "Negotiate " + base64.StdEncoding.EncodeToString(b), nil
}

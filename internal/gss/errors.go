package gss

import (
	"errors"
	"strings"
)

// The reasons Classify finds; package kerberos exports them under the same
// names, where they are documented.
var (
	ErrUnknownPrincipal = errors.New("no such principal in the realm")
	ErrClockSkew        = errors.New("clock skew too large")
	ErrKDCUnreachable   = errors.New("KDC unreachable")
	ErrExpired          = errors.New("credentials expired")
	ErrBadCredentials   = errors.New("password or key refused")
)

// Classify maps gokrb5's error texts (which carry the RFC 4120 error code
// names, but not as typed values) to the reasons above; nil when none fits.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	s := err.Error()
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(s, w) {
				return true
			}
		}
		return false
	}
	switch {
	case has("KDC_ERR_S_PRINCIPAL_UNKNOWN", "KDC_ERR_C_PRINCIPAL_UNKNOWN"):
		return ErrUnknownPrincipal
	case has("KRB_AP_ERR_SKEW", "clock skew"):
		return ErrClockSkew
	case has("KRB_AP_ERR_TKT_EXPIRED", "KDC_ERR_KEY_EXPIRED", "KDC_ERR_CLIENT_REVOKED", "KDC_ERR_TGT_REVOKED",
		"KDC_ERR_CANNOT_POSTDATE", "KRB_AP_ERR_TKT_NYV", "ticket is expired", "ticket expired"):
		return ErrExpired
	case has("KDC_ERR_PREAUTH_FAILED", "KRB_AP_ERR_BAD_INTEGRITY", "client password/keytab incorrect",
		"Matching key not found in keytab"):
		return ErrBadCredentials
	case has("Networking_Error", "error sending to a KDC", "communication error with KDC",
		"failed to communicate with KDC", "no KDC", "connection refused", "i/o timeout"):
		return ErrKDCUnreachable
	}
	return nil
}

// Package jwttest issues JSON Web Tokens for tests: an RSA key, the JSON
// Web Key Set that holds its public half (what Impala's --jwks_file_path
// and the test coordinator's Config.JWKSFile read), and RS256 tokens
// signed with it.
package jwttest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// Issuer signs tokens with one RSA key.
type Issuer struct {
	// KeyID is the key's "kid", in the JWKS and in the tokens' header.
	KeyID string
	key   *rsa.PrivateKey
}

// New makes an issuer with a fresh 2048-bit key.
func New(keyID string) (*Issuer, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return &Issuer{KeyID: keyID, key: k}, nil
}

var b64 = base64.RawURLEncoding

// JWKS returns the key set holding the issuer's public key (RS256).
func (is *Issuer) JWKS() []byte {
	e := big.NewInt(int64(is.key.E)).Bytes()
	b, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": is.KeyID, "alg": "RS256", "use": "sig",
		"n": b64.EncodeToString(is.key.N.Bytes()), "e": b64.EncodeToString(e),
	}}})
	return b
}

// WriteJWKS writes JWKS to dir/jwks.json and returns its path.
func (is *Issuer) WriteJWKS(dir string) (string, error) {
	p := filepath.Join(dir, "jwks.json")
	return p, os.WriteFile(p, is.JWKS(), 0o600)
}

// Token returns an RS256 token for user (claim "username", Impala's
// default) that expires after ttl (no "exp" when ttl is 0), with the extra
// claims.
func (is *Issuer) Token(user string, ttl time.Duration, extra map[string]any) string {
	claims := map[string]any{"username": user, "iat": time.Now().Unix()}
	if ttl != 0 {
		claims["exp"] = time.Now().Add(ttl).Unix()
	}
	for k, v := range extra {
		claims[k] = v
	}
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": is.KeyID})
	c, _ := json.Marshal(claims)
	signing := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, is.key, crypto.SHA256, sum[:])
	if err != nil {
		panic(err) // cannot fail for a valid key
	}
	return signing + "." + b64.EncodeToString(sig)
}

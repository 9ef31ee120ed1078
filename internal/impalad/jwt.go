package impalad

import (
	"crypto"
	"crypto/rsa"
	_ "crypto/sha256" // SHA-256 for RS256
	_ "crypto/sha512" // SHA-384 and SHA-512 for RS384 and RS512
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"
)

// JWT authentication over HTTP, as Impala's (be/src/util/jwt-util.cc,
// JWTHelper, with --jwt_token_auth, --jwks_file_path and
// --jwt_validate_signature on; be/src/rpc/authentication.cc, JWTTokenAuth):
// the JWKS file is an object whose only member is a non-empty array "keys";
// a token's "kid" picks its key, and a token without one is tried against
// every key of its algorithm's family; the token must be signed (an
// unsecured JWT is refused), its algorithm must be its key's, "exp",
// "nbf" and "iat" are checked with no leeway (jwt-cpp's verify()), and the
// user is the string claim --jwt_custom_claim_username ("username").
//
// The test coordinator verifies the RSA algorithms RS256, RS384 and
// RS512; the others Impala takes (HS*, PS*, ES*) are refused with an error
// that says so.

// jwk is one RSA public key of the JWKS.
type jwk struct {
	kid string
	alg string // lower case, as JWTHelper compares them
	key *rsa.PublicKey
}

// jwks is a parsed JWKS file.
type jwks struct{ keys []jwk }

// loadJWKS reads and parses a JWKS file with JWKSetParser's rules.
func loadJWKS(path string) (*jwks, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("impalad: JWKS file: %w", err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("impalad: JWKS file %s: %w", path, err)
	}
	for k := range doc {
		if k != "keys" {
			return nil, fmt.Errorf("impalad: JWKS file %s: Unexpected property '%s' must be removed", path, k)
		}
	}
	raw, ok := doc["keys"]
	if !ok {
		return nil, fmt.Errorf("impalad: JWKS file %s: An array of keys is required", path)
	}
	var keys []map[string]any
	if err := json.Unmarshal(raw, &keys); err != nil {
		return nil, fmt.Errorf("impalad: JWKS file %s: 'keys' must be of type Array: %w", path, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("impalad: JWKS file %s: 'keys' must be a non empty Array", path)
	}
	out := &jwks{}
	for i, k := range keys {
		key, err := parseJWK(k)
		if err != nil {
			return nil, fmt.Errorf("impalad: JWKS file %s: parsing key #%d, %w", path, i, err)
		}
		out.keys = append(out.keys, key)
	}
	return out, nil
}

func parseJWK(k map[string]any) (jwk, error) {
	str := func(name string) (string, error) {
		v, ok := k[name]
		if !ok || v == nil {
			return "", fmt.Errorf("'%s' property is required", name)
		}
		s, ok := v.(string)
		if !ok || s == "" {
			return "", fmt.Errorf("'%s' property must be a non-empty string", name)
		}
		return s, nil
	}
	kty, err := str("kty")
	if err != nil {
		return jwk{}, err
	}
	kid, err := str("kid")
	if err != nil {
		return jwk{}, err
	}
	if !strings.EqualFold(kty, "RSA") {
		return jwk{}, fmt.Errorf("not supported by the test coordinator: kty '%s' (only RSA keys)", strings.ToLower(kty))
	}
	alg, err := str("alg")
	if err != nil {
		return jwk{}, errors.New("'alg' property is required (an x5c certificate instead is not supported by the test coordinator)")
	}
	alg = strings.ToLower(alg)
	if alg != "rs256" && alg != "rs384" && alg != "rs512" {
		return jwk{}, fmt.Errorf("not supported by the test coordinator: alg '%s' (only RS256, RS384, RS512)", alg)
	}
	n64, err := str("n")
	if err != nil {
		return jwk{}, errors.New("'n' and 'e' properties are required")
	}
	e64, err := str("e")
	if err != nil {
		return jwk{}, errors.New("'n' and 'e' properties are required")
	}
	n, err1 := base64.RawURLEncoding.DecodeString(strings.TrimRight(n64, "="))
	e, err2 := base64.RawURLEncoding.DecodeString(strings.TrimRight(e64, "="))
	if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
		//lint:ignore ST1005 Impala's text, verbatim
		return jwk{}, errors.New("Invalid public key")
	}
	ev := 0
	for _, c := range e {
		ev = ev<<8 | int(c)
	}
	return jwk{kid: kid, alg: alg, key: &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: ev}}, nil
}

// verifyJWT checks token as JWTHelper::Decode, Verify and
// GetCustomClaimUsername do and returns its user. The error is Impala's
// status detail.
func (ks *jwks) verifyJWT(token, userClaim string, now time.Time) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		//lint:ignore ST1005 Impala's text, verbatim
		return "", errors.New("Token is not in correct format")
	}
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || json.Unmarshal(hb, &hdr) != nil {
		return "", errors.New("Base64 decoding failed or invalid json")
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", errors.New("Base64 decoding failed or invalid json")
	}
	var claims map[string]any
	if err := json.Unmarshal(pb, &claims); err != nil {
		return "", errors.New("Base64 decoding failed or invalid json")
	}
	if parts[2] == "" {
		//lint:ignore ST1005 Impala's text, verbatim
		return "", errors.New("Unsecured JWT")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "", errors.New("Base64 decoding failed or invalid json")
	}
	alg := strings.ToLower(hdr.Alg)
	var h crypto.Hash
	switch alg {
	case "rs256":
		h = crypto.SHA256
	case "rs384":
		h = crypto.SHA384
	case "rs512":
		h = crypto.SHA512
	case "hs256", "hs384", "hs512", "ps256", "ps384", "ps512", "es256", "es384", "es512", "es256k":
		return "", fmt.Errorf("not supported by the test coordinator: JWT algorithm '%s'", alg)
	default:
		//lint:ignore ST1005 Impala's text, verbatim
		return "", fmt.Errorf("Unsupported cryptographic algorithm '%s' for JWT", alg)
	}
	d := h.New()
	d.Write([]byte(parts[0] + "." + parts[1]))
	sum := d.Sum(nil)
	verified := false
	//lint:ignore ST1005 Impala's text, verbatim
	lastErr := errors.New("Verification failed, no matching key")
	for _, k := range ks.keys {
		if hdr.Kid != "" && k.kid != hdr.Kid {
			continue
		}
		if k.alg != alg {
			lastErr = fmt.Errorf("JWT algorithm '%s' is not matching with JWK algorithm '%s'", alg, k.alg)
			if hdr.Kid != "" {
				break
			}
			continue
		}
		if err := rsa.VerifyPKCS1v15(k.key, h, sum, sig); err != nil {
			lastErr = errors.New("RSA error: signature verification failed")
			if hdr.Kid != "" {
				break
			}
			continue
		}
		verified = true
		break
	}
	if !verified {
		if hdr.Kid != "" && !ks.hasKid(hdr.Kid) {
			//lint:ignore ST1005 Impala's text, verbatim
			return "", errors.New("Invalid JWK ID in the JWT token")
		}
		return "", lastErr
	}
	// jwt-cpp's verify(): exp, iat and nbf with no leeway.
	sec := func(name string) (time.Time, bool) {
		v, ok := claims[name].(float64)
		if !ok {
			return time.Time{}, false
		}
		return time.Unix(int64(v), 0), true
	}
	if exp, ok := sec("exp"); ok && now.After(exp) {
		//lint:ignore ST1005 Impala's text, verbatim
		return "", errors.New("Token varification failed, error: token expired")
	}
	if nbf, ok := sec("nbf"); ok && now.Before(nbf) {
		//lint:ignore ST1005 Impala's text, verbatim
		return "", errors.New("Token varification failed, error: token expired")
	}
	if iat, ok := sec("iat"); ok && now.Before(iat) {
		//lint:ignore ST1005 Impala's text, verbatim
		return "", errors.New("Token varification failed, error: token expired")
	}
	u, ok := claims[userClaim]
	if !ok {
		//lint:ignore ST1005 Impala's text, verbatim
		return "", fmt.Errorf("Claim '%s' was not present", userClaim)
	}
	user, ok := u.(string)
	if !ok {
		b, _ := json.Marshal(u)
		user = string(b)
	}
	if user == "" {
		//lint:ignore ST1005 Impala's text, verbatim
		return "", fmt.Errorf("Claim '%s' is empty", userClaim)
	}
	return user, nil
}

func (ks *jwks) hasKid(kid string) bool {
	for _, k := range ks.keys {
		if k.kid == kid {
			return true
		}
	}
	return false
}

package jwttest_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/jwttest"
)

func TestTokenShape(t *testing.T) {
	is, err := jwttest.New("k1")
	require.NoError(t, err)
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(is.JWKS(), &set))
	require.Len(t, set.Keys, 1)
	require.Equal(t, "k1", set.Keys[0]["kid"])
	require.Equal(t, "RS256", set.Keys[0]["alg"])
	parts := strings.Split(is.Token("carol", time.Hour, map[string]any{"x": 1}), ".")
	require.Len(t, parts, 3)
	claims, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var c map[string]any
	require.NoError(t, json.Unmarshal(claims, &c))
	require.Equal(t, "carol", c["username"])
	require.Contains(t, c, "exp")
	require.EqualValues(t, 1, c["x"])
}

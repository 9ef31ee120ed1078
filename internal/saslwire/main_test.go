package saslwire

import (
	"testing"

	"github.com/impalalb/impalalb/internal/sasltest"
)

func TestMain(m *testing.M) { sasltest.Main(m) }

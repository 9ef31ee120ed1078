package conn

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/thrift/gen/beeswax"
)

// undeclaredText is the text Thrift's C++ processor gives a BeeswaxException
// raised by a call that does not declare it (TException::what() over the
// generated printTo).
func undeclaredText(msg, logCtx, code, sqlState string) string {
	return fmt.Sprintf("TException - service has thrown: BeeswaxException(message=%s, log_context=%s, handle=QueryHandle(id=, log_context=), errorCode=%s, SQLState=%s)",
		msg, logCtx, code, sqlState)
}

func TestParseUndeclaredBeeswax(t *testing.T) {
	for _, c := range []struct {
		text string
		want *beeswax.BeeswaxException
	}{
		{undeclaredText("Invalid session id\n", "", "0", "HY000"),
			&beeswax.BeeswaxException{Message: "Invalid session id\n", SQLState: "HY000"}},
		{undeclaredText("Query 1:2 failed:\nx, log_context=y, handle=QueryHandle(, errorCode=1, SQLState=z)\n", "1:2", "<null>", "<null>"),
			&beeswax.BeeswaxException{Message: "Query 1:2 failed:\nx, log_context=y, handle=QueryHandle(, errorCode=1, SQLState=z)\n", LogContext: "1:2"}},
		{undeclaredText("", "", "120", "HY000"), &beeswax.BeeswaxException{SQLState: "HY000", ErrorCode: 120}},
	} {
		got, ok := parseUndeclaredBeeswax(c.text)
		require.True(t, ok, c.text)
		require.Equal(t, c.want, got)
		ae := thrift.NewTApplicationException(thrift.UNKNOWN_APPLICATION_EXCEPTION, c.text)
		got, ok = undeclaredBeeswax(ae)
		require.True(t, ok)
		require.Equal(t, c.want, got)
	}
	for _, text := range []string{
		"",
		"Internal error processing get_state: boom",
		"TException - service has thrown: QueryNotFoundException()",
		"TException - service has thrown: BeeswaxException(message=x",
		"TException - service has thrown: BeeswaxException(message=x, errorCode=0, SQLState=HY000)",
	} {
		_, ok := parseUndeclaredBeeswax(text)
		require.False(t, ok, text)
	}
	_, ok := undeclaredBeeswax(thrift.NewTApplicationException(thrift.INTERNAL_ERROR, undeclaredText("x", "", "0", "HY000")))
	require.False(t, ok, "only Thrift's UNKNOWN type carries an exception's text")
}

// FuzzUndeclaredBeeswax: any text parses without panicking, and any
// message printed by the processor comes back whole.
func FuzzUndeclaredBeeswax(f *testing.F) {
	f.Add("Invalid session id\n", "HY000")
	f.Add("a, log_context=b, handle=QueryHandle(id=, log_context=), errorCode=0, SQLState=c)", "")
	f.Fuzz(func(t *testing.T, msg, sqlState string) {
		_, _ = parseUndeclaredBeeswax(msg)
		be, ok := parseUndeclaredBeeswax(undeclaredText(msg, "q", "0", sqlState))
		if !ok {
			t.Fatalf("not parsed: %q", msg)
		}
		if be.Message != msg && !containsFieldText(sqlState) {
			t.Fatalf("message %q read as %q", msg, be.Message)
		}
	})
}

// containsFieldText reports whether a SQLSTATE itself holds the text that
// introduces it, which makes the printed form ambiguous.
func containsFieldText(s string) bool { return strings.Contains(s, ", SQLState=") }

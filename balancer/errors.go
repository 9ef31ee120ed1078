package balancer

import (
	"errors"
	"fmt"
)

// ErrPoolClosed is returned by [Pool.Acquire] once [Pool.Close] was called.
var ErrPoolClosed = errors.New("balancer: pool closed")

// ErrNoCoordinator is returned by [Pool.Acquire] when the pool has no
// coordinator to try (every one was removed by [Pool.SetCoordinators]).
var ErrNoCoordinator = errors.New("balancer: no coordinator")

// DialError is a failure to open a session on one coordinator. Nothing of
// the caller's work was sent, so retrying elsewhere is safe; [Pool.Acquire]
// already did so up to [Config.Retries] times before returning it.
type DialError struct {
	// Coordinator is the address that failed.
	Coordinator string
	// Err is the [Dialer]'s error, or a context error if the dial timed out.
	Err error
}

// Error implements error.
func (e *DialError) Error() string {
	return fmt.Sprintf("balancer: dial %s: %v", e.Coordinator, e.Err)
}

// Unwrap returns the underlying error.
func (e *DialError) Unwrap() error { return e.Err }

// ConfigError reports an invalid [Config] field.
type ConfigError struct {
	// Field is the name of the Config field, e.g. "LoadFactor".
	Field string
	// Reason says what is wrong with it.
	Reason string
}

// Error implements error.
func (e *ConfigError) Error() string {
	return "balancer: Config." + e.Field + ": " + e.Reason
}

func configErr(field, format string, args ...any) error {
	return &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// clientSide reports whether a Dial error says the failure is the client's
// own rather than the coordinator's: a [ClientSideError] in its chain
// reports true. The pool then leaves the coordinator's state as it is and
// does not redispatch.
func clientSide(err error) bool {
	var cs ClientSideError
	return errors.As(err, &cs) && cs.ClientSide()
}

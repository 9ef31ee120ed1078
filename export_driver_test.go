package impalalb

import (
	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
)

// Effective returns what the connector gave its pool and dialer, with
// their defaults applied.
func (c *Connector) Effective() (balancer.Config, conn.Options, error) {
	o, err := c.opts.WithDefaults()
	return c.bcfg.WithDefaults(), o, err
}

// PrefetchDepth is prefetchDepth, for tests.
const PrefetchDepth = prefetchDepth

// ScanAll is scanAll (rows_timedecode_test.go): every row of a query as
// the values the driver hands out, for tests.
var ScanAll = scanAll

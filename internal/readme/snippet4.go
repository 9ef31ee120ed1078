// Code generated from README.md by TestSnippetsCompile; DO NOT EDIT.

package readme

import (
	"database/sql"
	"log/slog"

	"github.com/impalalb/impalalb"
)

// reports opens the coordinators of HAProxy's impalajdbc section (balance
// source: Hue's sticky sessions), with its checks and TLS, and a slower
// ramp-up than the file's.
func reports(logger *slog.Logger) (*sql.DB, error) {
	cfg, err := impalalb.ParseDSN("impala://etl@/sales" +
		"?haproxy_config=/etc/haproxy/haproxy.cfg&haproxy_backend=impalajdbc&slow_start=30s")
	if err != nil {
		return nil, err
	}
	cfg.Logger = logger // the directives left behind, one line each
	c, err := impalalb.NewConnector(cfg)
	if err != nil {
		return nil, err // the file unreadable, no such section, mode http, ...
	}
	return sql.OpenDB(c), nil
}

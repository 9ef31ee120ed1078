// Code generated from README.md by TestSnippetsCompile; DO NOT EDIT.

package readme

import (
	"context"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
)

func selectOne(ctx context.Context) error {
	pool, err := balancer.New(balancer.Config{
		Coordinators: []string{"c1:21050", "c2:21050", "c3:21050"},
	}, balancer.NewConnDialer(conn.Options{User: "etl"}))
	if err != nil {
		return err
	}
	defer pool.Close()
	lease, err := pool.Acquire(ctx, "alice") // a key: affinity; "": leastconn
	if err != nil {
		return err // nothing was sent to any coordinator
	}
	defer lease.Release()
	op, err := lease.Session().Execute(ctx, "SELECT 1", nil) // a *conn.Session
	if err != nil {
		return err
	}
	return op.Close(ctx)
}

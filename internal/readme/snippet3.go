// Code generated from README.md by TestSnippetsCompile; DO NOT EDIT.

package readme

import (
	"context"
	"database/sql"
	"io"

	"github.com/impalalb/impalalb"
)

// tablesOf lists the tables of the databases whose names match pattern.
func tablesOf(ctx context.Context, db *sql.DB, pattern string) ([]string, error) {
	c, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var names []string
	err = c.Raw(func(dc any) error {
		op, err := dc.(impalalb.RawConn).Session().GetTables(ctx, nil, &pattern, nil, nil)
		if err != nil {
			return err
		}
		defer op.Close(ctx)
		for {
			b, err := op.Next(ctx)
			if err == io.EOF {
				return op.Close(ctx)
			}
			if err != nil {
				return err
			}
			for r := range b.Len() {
				names = append(names, b.String(2, r)) // TABLE_NAME
			}
		}
	})
	return names, err
}

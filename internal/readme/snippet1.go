// Code generated from README.md by TestSnippetsCompile; DO NOT EDIT.

package readme

import (
	"context"
	"database/sql"

	_ "github.com/impalalb/impalalb"
)

func customers(ctx context.Context) error {
	db, err := sql.Open("impala",
		"impala://etl@c1.example.com,c2.example.com,c3.example.com/sales"+
			"?auth=gssapi&kerberos_host_fqdn=impala-lb.example.com&tls=true&ca_cert=/etc/ssl/impala-ca.pem"+
			"&opt.REQUEST_POOL=etl")
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT id, name FROM customers WHERE region = ?", "EMEA")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return err
		}
	}
	return rows.Err()
}

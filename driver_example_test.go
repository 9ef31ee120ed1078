package impalalb_test

import (
	"database/sql"
	"fmt"
	"log"
	"strings"

	"github.com/impalalb/impalalb"
	"github.com/impalalb/impalalb/internal/impalad"
)

// Example opens a database/sql handle over three in-process test
// coordinators, balanced by least connections, and runs queries with
// arguments interpolated on the client.
func Example() {
	cos, err := impalad.NewCluster(0).StartN(3, impalad.Config{})
	if err != nil {
		log.Fatal(err)
	}
	var hosts []string
	for _, co := range cos {
		defer co.Close()
		hosts = append(hosts, co.HS2Addr())
	}

	dsn := "impala://demo@" + strings.Join(hosts, ",") + "/default?balance=leastconn&opt.MEM_LIMIT=2g"
	db, err := sql.Open("impala", dsn)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	var greeting string
	var answer int
	if err := db.QueryRow("select ?, ?", "hello, impala", 42).Scan(&greeting, &answer); err != nil {
		log.Fatal(err)
	}
	fmt.Println(greeting, answer)

	rows, err := db.Query("select id, decimal_col, string_col from gen.rows_3")
	if err != nil {
		log.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var price impalalb.Decimal // exact; a string works too
		var name sql.NullString
		if err := rows.Scan(&id, &price, &name); err != nil {
			log.Fatal(err)
		}
		if !name.Valid {
			name.String = "NULL"
		}
		fmt.Println(id, price, name.String)
	}
	if err := rows.Err(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// hello, impala 42
	// 0 NULL row-0
	// 1 -48.99 NULL
	// 2 -47.98 ü-2-ß
}

// ExampleNewConnector builds the Config in code and keeps the Connector
// to read the balancer's figures.
func ExampleNewConnector() {
	co, err := impalad.Start(impalad.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer co.Close()

	cfg := &impalalb.Config{}
	cfg.Addrs = []string{co.HS2Addr()}
	cfg.User = "demo"
	c, err := impalalb.NewConnector(cfg)
	if err != nil {
		log.Fatal(err)
	}
	db := sql.OpenDB(c)
	defer db.Close() // closes the Connector too

	if err := db.Ping(); err != nil {
		log.Fatal(err)
	}
	st := c.Stats()
	fmt.Println("coordinators:", len(st.Coordinators), "sessions:", st.Open)
	// Output:
	// coordinators: 1 sessions: 1
}

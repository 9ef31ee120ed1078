package impalalb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
)

// DriverName is the name the driver is registered under with
// database/sql: sql.Open("impala", dsn).
const DriverName = "impala"

func init() {
	sql.Register(DriverName, &Driver{})
}

// ErrNoTransactions is returned by Begin and BeginTx: Impala has no
// multi-statement transactions, so the driver refuses to pretend.
var ErrNoTransactions = errors.New("impalalb: transactions are not supported (Impala has no multi-statement transactions)")

// Driver is the database/sql driver "impala". It implements
// driver.Driver and driver.DriverContext: database/sql calls
// OpenConnector once per sql.Open and then asks the [Connector] for
// connections, so one sql.DB has one balancer pool.
type Driver struct{}

var (
	_ driver.Driver        = (*Driver)(nil)
	_ driver.DriverContext = (*Driver)(nil)
)

// Open parses dsn, opens a connection and returns it. database/sql does
// not call it (it uses OpenConnector); code that does gets a connection
// whose pool is closed with it.
func (d *Driver) Open(dsn string) (driver.Conn, error) {
	c, err := d.OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	cn, err := c.Connect(context.Background())
	if err != nil {
		_ = c.(*Connector).Close()
		return nil, err
	}
	sc := cn.(*sqlConn)
	sc.ownsConnector = true
	return sc, nil
}

// OpenConnector parses dsn (see [ParseDSN]) and returns a [*Connector].
func (d *Driver) OpenConnector(dsn string) (driver.Connector, error) {
	cfg, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	return newConnector(cfg, d)
}

package interop

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/impalad"
)

// impylaMetadataScript uses impyla's metadata calls (HiveServer2
// GetSchemas, GetTables, GetColumns) and prints what they return, one
// Python repr a line.
const impylaMetadataScript = `
import sys
from impala.dbapi import connect

conn = connect(host=sys.argv[1], port=int(sys.argv[2]), auth_mechanism="NOSASL", timeout=60)
cur = conn.cursor()
for sql in ["create database sales",
            "create table sales.orders (id int, amount decimal(10,2), note varchar(20), at timestamp)",
            "create table sales.order_lines (id bigint, flag boolean)",
            "create table default.t1 (x double, y string)"]:
    cur.execute(sql)
cur.get_databases()
print("databases", [d[0] for d in cur.description], cur.fetchall())
cur.get_tables()
print("tables", [d[0] for d in cur.description], cur.fetchall())
cur.get_tables(database_name="sales")
print("tables sales", cur.fetchall())
print("schema sales.orders", cur.get_table_schema("orders", database_name="sales"))
print("schema t1", cur.get_table_schema("t1"))
print("schema gen.rows_3", cur.get_table_schema("rows_3", database_name="gen")[:3])
print("exists", cur.database_exists("sales"), cur.database_exists("nope"), cur.table_exists("orders", database_name="sales"), cur.table_exists("nope"))
try:
    cur.get_table_schema("nope", database_name="sales")
    print("missing table: no error")
except Exception as e:
    print("missing table:", type(e).__name__)
cur.close()
conn.close()
print("done")
`

// TestImpylaMetadata checks impyla's get_databases, get_tables and
// get_table_schema against cmd/impalad, value for value.
func TestImpylaMetadata(t *testing.T) {
	venv(t)
	p := startImpalad(t)
	script := filepath.Join(t.TempDir(), "impyla_metadata.py")
	require.NoError(t, os.WriteFile(script, []byte(impylaMetadataScript), 0o600))
	host, port, err := net.SplitHostPort(p.HS2)
	require.NoError(t, err)
	r := run(t, nil, "python", script, host, port)
	require.NoError(t, r.Err, "stdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
	require.Equal(t, []string{
		"databases ['TABLE_SCHEM', 'TABLE_CATALOG'] [('_impala_builtins', ''), ('default', ''), ('gen', ''), ('sales', '')]",
		"tables ['TABLE_CAT', 'TABLE_SCHEM', 'TABLE_NAME', 'TABLE_TYPE', 'REMARKS'] " +
			"[('', 'default', 't1', 'TABLE', ''), ('', 'sales', 'order_lines', 'TABLE', ''), ('', 'sales', 'orders', 'TABLE', '')]",
		"tables sales [('', 'sales', 'order_lines', 'TABLE', ''), ('', 'sales', 'orders', 'TABLE', '')]",
		"schema sales.orders [('id', 'INT'), ('amount', 'DECIMAL'), ('note', 'VARCHAR'), ('at', 'TIMESTAMP')]",
		"schema t1 [('x', 'DOUBLE'), ('y', 'STRING')]",
		genSchemaLine(),
		"exists True False True False",
		"missing table: OperationalError",
		"done",
	}, lines(r.Stdout))
}

// genSchemaLine is the script's line for the first three columns of a gen
// table.
func genSchemaLine() string {
	s := "schema gen.rows_3 ["
	for i, c := range impalad.GenSchema()[:3] {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("('%s', '%s')", c.Name, impylaTypeName(c.Type))
	}
	return s + "]"
}

package impalad

import (
	"context"
	"maps"
	"math"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// The HiveServer2 metadata calls (GetTypeInfo, GetCatalogs, GetSchemas,
// GetTables, GetTableTypes, GetColumns, GetFunctions, GetPrimaryKeys,
// GetCrossReference). Each builds its
// result set at once, as Impala's frontend does, and registers it as a
// finished operation that the client fetches and closes like a statement's.
// The result set columns are Impala's (fe MetadataOp), including its
// spelling "TABLE_MD" for the second column of GetColumns.
//
// Catalog contents: the databases of the cluster plus "_impala_builtins"
// and the generated "gen"; the tables of the cluster's databases. The
// tables of "gen" are virtual (any rows_N), so GetTables lists none of them,
// as SHOW TABLES does; GetColumns returns the columns of gen.rows_N when the
// table pattern, read literally, names one.

// Result set schemas of the metadata calls.
var (
	mdCatalogs   = []Column{{"TABLE_CAT", Type{Kind: String}}}
	mdSchemas    = []Column{{"TABLE_SCHEM", Type{Kind: String}}, {"TABLE_CATALOG", Type{Kind: String}}}
	mdTableTypes = []Column{{"TABLE_TYPE", Type{Kind: String}}}
	mdTables     = []Column{
		{"TABLE_CAT", Type{Kind: String}}, {"TABLE_SCHEM", Type{Kind: String}}, {"TABLE_NAME", Type{Kind: String}},
		{"TABLE_TYPE", Type{Kind: String}}, {"REMARKS", Type{Kind: String}},
	}
	mdColumns = []Column{
		{"TABLE_CAT", Type{Kind: String}}, {"TABLE_MD", Type{Kind: String}}, {"TABLE_NAME", Type{Kind: String}},
		{"COLUMN_NAME", Type{Kind: String}}, {"DATA_TYPE", Type{Kind: Int}}, {"TYPE_NAME", Type{Kind: String}},
		{"COLUMN_SIZE", Type{Kind: Int}}, {"BUFFER_LENGTH", Type{Kind: Int}}, {"DECIMAL_DIGITS", Type{Kind: Int}},
		{"NUM_PREC_RADIX", Type{Kind: Int}}, {"NULLABLE", Type{Kind: Int}}, {"REMARKS", Type{Kind: String}},
		{"COLUMN_DEF", Type{Kind: String}}, {"SQL_DATA_TYPE", Type{Kind: Int}}, {"SQL_DATETIME_SUB", Type{Kind: Int}},
		{"CHAR_OCTET_LENGTH", Type{Kind: Int}}, {"ORDINAL_POSITION", Type{Kind: Int}}, {"IS_NULLABLE", Type{Kind: String}},
		{"SCOPE_CATALOG", Type{Kind: String}}, {"SCOPE_SCHEMA", Type{Kind: String}}, {"SCOPE_TABLE", Type{Kind: String}},
		{"SOURCE_DATA_TYPE", Type{Kind: SmallInt}}, {"IS_AUTO_INCREMENT", Type{Kind: String}},
	}
	mdTypeInfo = []Column{
		{"TYPE_NAME", Type{Kind: String}}, {"DATA_TYPE", Type{Kind: Int}}, {"PRECISION", Type{Kind: Int}},
		{"LITERAL_PREFIX", Type{Kind: String}}, {"LITERAL_SUFFIX", Type{Kind: String}}, {"CREATE_PARAMS", Type{Kind: String}},
		{"NULLABLE", Type{Kind: Int}}, {"CASE_SENSITIVE", Type{Kind: Boolean}}, {"SEARCHABLE", Type{Kind: SmallInt}},
		{"UNSIGNED_ATTRIBUTE", Type{Kind: Boolean}}, {"FIXED_PREC_SCALE", Type{Kind: Boolean}}, {"AUTO_INCREMENT", Type{Kind: Boolean}},
		{"LOCAL_TYPE_NAME", Type{Kind: String}}, {"MINIMUM_SCALE", Type{Kind: SmallInt}}, {"MAXIMUM_SCALE", Type{Kind: SmallInt}},
		{"SQL_DATA_TYPE", Type{Kind: Int}}, {"SQL_DATETIME_SUB", Type{Kind: Int}}, {"NUM_PREC_RADIX", Type{Kind: Int}},
	}
	mdPrimaryKeys = []Column{
		{"TABLE_CAT", Type{Kind: String}}, {"TABLE_SCHEM", Type{Kind: String}}, {"TABLE_NAME", Type{Kind: String}},
		{"COLUMN_NAME", Type{Kind: String}}, {"KEQ_SEQ", Type{Kind: Int}}, {"PK_NAME", Type{Kind: String}},
	}
	mdCrossReference = []Column{
		{"PKTABLE_CAT", Type{Kind: String}}, {"PKTABLE_SCHEM", Type{Kind: String}}, {"PKTABLE_NAME", Type{Kind: String}},
		{"PKCOLUMN_NAME", Type{Kind: String}}, {"FKTABLE_CAT", Type{Kind: String}}, {"FKTABLE_SCHEM", Type{Kind: String}},
		{"FKTABLE_NAME", Type{Kind: String}}, {"FKCOLUMN_NAME", Type{Kind: String}}, {"KEQ_SEQ", Type{Kind: Int}},
		{"UPDATE_RULE", Type{Kind: Int}}, {"DELETE_RULE", Type{Kind: Int}}, {"FK_NAME", Type{Kind: String}},
		{"PK_NAME", Type{Kind: String}}, {"DEFERRABILITY", Type{Kind: Int}},
	}
	mdFunctions = []Column{
		{"FUNCTION_CAT", Type{Kind: String}}, {"FUNCTION_SCHEM", Type{Kind: String}}, {"FUNCTION_NAME", Type{Kind: String}},
		{"REMARKS", Type{Kind: String}}, {"FUNCTION_TYPE", Type{Kind: Int}}, {"SPECIFIC_NAME", Type{Kind: String}},
	}
)

// java.sql.Types and java.sql.DatabaseMetaData constants used in the rows.
const (
	jdbcNullable   = 1 // columnNullable, typeNullable
	jdbcSearchable = 3 // typeSearchable
	jdbcNoTable    = 1 // functionNoTable
)

// builtinsDB is Impala's database of builtin functions.
const builtinsDB = "_impala_builtins"

// pattern is a compiled JDBC search pattern; nil matches everything.
type pattern struct{ re *regexp.Regexp }

// compilePattern turns a JDBC search pattern into a matcher the way Impala
// does: % matches any run of characters, _ any one character, \% and \_
// are the characters themselves, and other characters keep their meaning
// in a regular expression (so impyla's default ".*" matches everything).
// Absent or empty matches everything. Names compare case-insensitively, as
// Impala's identifiers do.
func compilePattern[S ~string](p *S) (pattern, *sqlError) {
	if p == nil || *p == "" {
		return pattern{}, nil
	}
	var b strings.Builder
	b.WriteString("(?is)^(?:")
	s := string(*p)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '%' || s[i+1] == '_'):
			b.WriteByte(s[i+1])
			i++
		case c == '%':
			b.WriteString(".*")
		case c == '_':
			b.WriteByte('.')
		default:
			b.WriteByte(c)
		}
	}
	b.WriteString(")$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return pattern{}, &sqlError{msg: "Invalid search pattern: " + s, sqlState: "HY000"}
	}
	return pattern{re: re}, nil
}

func (p pattern) match(name string) bool { return p.re == nil || p.re.MatchString(name) }

// literal is p read as a plain name: the escapes \% and \_ undone.
func literal[S ~string](p *S) string {
	if p == nil {
		return ""
	}
	return strings.NewReplacer(`\%`, "%", `\_`, "_").Replace(string(*p))
}

// emptyCatalog reports whether a catalog argument asks for no particular
// catalog; Impala answers nothing for any other, having no catalogs.
func emptyCatalog[S ~string](c *S) bool { return c == nil || *c == "" || *c == "%" }

// metaOpLocked registers a finished operation holding r for session s.
func (co *Coordinator) metaOpLocked(s *session, name string, r *rowsResult) *operation {
	now := time.Now()
	op := &operation{sess: s, text: name, res: r, opts: maps.Clone(s.opts), started: now, readyAt: now, cancelled: make(chan struct{})}
	op.key, op.id = newID()
	op.secret = newSecret()
	co.ops[op.key] = op
	s.ops[op] = struct{}{}
	return op
}

// metadata runs one metadata call: checks the session, builds the rows and
// returns the status and the handle of the new operation.
func (h *hs2Handler) metadata(ctx context.Context, method string, sh *tcli.TSessionHandle, typ tcli.TOperationType,
	build func() (*rowsResult, *sqlError)) (*tcli.TStatus, *tcli.TOperationHandle, error) {
	if err := h.co.faults.enter(ctx, method); err != nil {
		return nil, nil, err
	}
	co := h.co
	guid, secret := sessionIDs(sh)
	co.mu.Lock()
	defer co.mu.Unlock()
	// Every metadata call of impala-hs2-server.cc checks the shutdown first.
	if err := co.checkNotShuttingDownLocked(); err != nil {
		return errStatus(err), nil, nil
	}
	s, serr := co.useSessionLocked(connFrom(ctx), guid, secret)
	if serr != nil {
		return errStatus(serr), nil, nil
	}
	r, serr := build()
	if serr != nil {
		return errStatus(serr), nil, nil
	}
	handle := opHandle(co.metaOpLocked(s, method, r))
	handle.OperationType = typ
	return okStatus(), handle, nil
}

// databases lists the databases this coordinator sees, with the
// builtins and gen databases, sorted.
func (co *Coordinator) databases() []string {
	dbs := append(co.cluster.listDBs(co.member), builtinsDB, "gen")
	sort.Strings(dbs)
	return dbs
}

// catalogTable is one table the metadata calls report.
type catalogTable struct {
	db, name string
	cols     []Column
}

// tablesMatching lists the tables whose database and name match; the
// tables of gen are given only when genName (read literally) names one.
func (co *Coordinator) tablesMatching(schema, table pattern, genName string) []catalogTable {
	var out []catalogTable
	for _, db := range co.databases() {
		if !schema.match(db) {
			continue
		}
		switch db {
		case builtinsDB:
			continue
		case "gen":
			if genName == "" || !table.match(genName) {
				continue
			}
			if cols, _, _, err := co.source("gen", strings.ToLower(genName), genName, "table reference"); err == nil {
				out = append(out, catalogTable{db, strings.ToLower(genName), cols})
			}
			continue
		}
		names, _ := co.cluster.listTables(co.member, db)
		for _, n := range names {
			if !table.match(n) {
				continue
			}
			if t, _ := co.cluster.table(co.member, db, n); t != nil {
				out = append(out, catalogTable{db, n, t.cols})
			}
		}
	}
	return out
}

// jdbcType returns java.sql.Types for k, as Impala reports it.
func jdbcType(k Kind) int32 {
	switch k {
	case Boolean:
		return 16
	case TinyInt:
		return -6
	case SmallInt:
		return 5
	case Int:
		return 4
	case BigInt:
		return -5
	case Float:
		return 6
	case Double:
		return 8
	case Decimal:
		return 3
	case String, Varchar:
		return 12
	case Char:
		return 1
	case Timestamp:
		return 93
	case Date:
		return 91
	case Binary:
		return -2
	}
	return 1111 // OTHER
}

// precision is the JDBC precision of numeric types, nil for others.
func precision(t Type) any {
	switch t.Kind {
	case TinyInt:
		return int32(3)
	case SmallInt:
		return int32(5)
	case Int:
		return int32(10)
	case BigInt:
		return int32(19)
	case Float:
		return int32(7)
	case Double:
		return int32(15)
	case Decimal:
		return int32(t.Precision)
	}
	return nil
}

// columnSize is GetColumns' COLUMN_SIZE.
func columnSize(t Type) any {
	switch t.Kind {
	case String, Binary:
		return int32(math.MaxInt32)
	case Timestamp:
		return int32(29)
	case Date:
		return int32(10)
	case Char, Varchar:
		return int32(t.Length)
	}
	return precision(t)
}

// decimalDigits is GetColumns' DECIMAL_DIGITS.
func decimalDigits(t Type) any {
	switch t.Kind {
	case Boolean, TinyInt, SmallInt, Int, BigInt:
		return int32(0)
	case Float:
		return int32(7)
	case Double:
		return int32(15)
	case Timestamp:
		return int32(9)
	case Decimal:
		return int32(t.Scale)
	}
	return nil
}

// precRadix is NUM_PREC_RADIX: 10 for numeric types, nil for others.
func precRadix(t Type) any {
	switch t.Kind {
	case TinyInt, SmallInt, Int, BigInt, Float, Double, Decimal:
		return int32(10)
	}
	return nil
}

// typeInfoKinds are the types GetTypeInfo lists, in Impala's order.
var typeInfoKinds = []Kind{Boolean, TinyInt, SmallInt, Int, BigInt, Float, Double, Date, Timestamp,
	String, Binary, Decimal, Char, Varchar}

func typeInfoRows() *rowsResult {
	r := &rowsResult{cols: mdTypeInfo}
	for _, k := range typeInfoKinds {
		t := Type{Kind: k}
		switch k {
		case Decimal:
			t.Precision, t.Scale = 9, 0 // Impala's default DECIMAL
		case Char, Varchar:
			t.Length = 1
		}
		numeric := precRadix(t) != nil
		r.rows = append(r.rows, []any{
			strings.ToUpper(k.String()), jdbcType(k), precision(t), nil, nil, nil,
			int32(jdbcNullable), k == String || k == Varchar || k == Char, int16(jdbcSearchable),
			!numeric, false, false, nil, int16(0), int16(0), nil, nil, precRadix(t),
		})
	}
	return r
}

func (h *hs2Handler) GetTypeInfo(ctx context.Context, req *tcli.TGetTypeInfoReq) (*tcli.TGetTypeInfoResp, error) {
	st, op, err := h.metadata(ctx, "GetTypeInfo", req.SessionHandle, tcli.TOperationType_GET_TYPE_INFO,
		func() (*rowsResult, *sqlError) { return typeInfoRows(), nil })
	if err != nil {
		return nil, err
	}
	return &tcli.TGetTypeInfoResp{Status: st, OperationHandle: op}, nil
}

func (h *hs2Handler) GetCatalogs(ctx context.Context, req *tcli.TGetCatalogsReq) (*tcli.TGetCatalogsResp, error) {
	// Impala has no catalogs: always an empty result set.
	st, op, err := h.metadata(ctx, "GetCatalogs", req.SessionHandle, tcli.TOperationType_GET_CATALOGS,
		func() (*rowsResult, *sqlError) { return &rowsResult{cols: mdCatalogs}, nil })
	if err != nil {
		return nil, err
	}
	return &tcli.TGetCatalogsResp{Status: st, OperationHandle: op}, nil
}

func (h *hs2Handler) GetTableTypes(ctx context.Context, req *tcli.TGetTableTypesReq) (*tcli.TGetTableTypesResp, error) {
	st, op, err := h.metadata(ctx, "GetTableTypes", req.SessionHandle, tcli.TOperationType_GET_TABLE_TYPES,
		func() (*rowsResult, *sqlError) {
			return &rowsResult{cols: mdTableTypes, rows: [][]any{{"TABLE"}, {"VIEW"}}}, nil
		})
	if err != nil {
		return nil, err
	}
	return &tcli.TGetTableTypesResp{Status: st, OperationHandle: op}, nil
}

func (h *hs2Handler) GetSchemas(ctx context.Context, req *tcli.TGetSchemasReq) (*tcli.TGetSchemasResp, error) {
	co := h.co
	st, op, err := h.metadata(ctx, "GetSchemas", req.SessionHandle, tcli.TOperationType_GET_SCHEMAS,
		func() (*rowsResult, *sqlError) {
			r := &rowsResult{cols: mdSchemas}
			if !emptyCatalog(req.CatalogName) {
				return r, nil
			}
			schema, perr := compilePattern(req.SchemaName)
			if perr != nil {
				return nil, perr
			}
			for _, db := range co.databases() {
				if schema.match(db) {
					r.rows = append(r.rows, []any{db, ""})
				}
			}
			return r, nil
		})
	if err != nil {
		return nil, err
	}
	return &tcli.TGetSchemasResp{Status: st, OperationHandle: op}, nil
}

func (h *hs2Handler) GetTables(ctx context.Context, req *tcli.TGetTablesReq) (*tcli.TGetTablesResp, error) {
	co := h.co
	st, op, err := h.metadata(ctx, "GetTables", req.SessionHandle, tcli.TOperationType_GET_TABLES,
		func() (*rowsResult, *sqlError) {
			r := &rowsResult{cols: mdTables}
			if !emptyCatalog(req.CatalogName) {
				return r, nil
			}
			if len(req.TableTypes) > 0 {
				// Every table of the test coordinator is a TABLE.
				want := false
				for _, t := range req.TableTypes {
					want = want || strings.EqualFold(t, "TABLE")
				}
				if !want {
					return r, nil
				}
			}
			schema, perr := compilePattern(req.SchemaName)
			if perr != nil {
				return nil, perr
			}
			table, perr := compilePattern(req.TableName)
			if perr != nil {
				return nil, perr
			}
			for _, t := range co.tablesMatching(schema, table, "") {
				r.rows = append(r.rows, []any{"", t.db, t.name, "TABLE", ""})
			}
			return r, nil
		})
	if err != nil {
		return nil, err
	}
	return &tcli.TGetTablesResp{Status: st, OperationHandle: op}, nil
}

func (h *hs2Handler) GetColumns(ctx context.Context, req *tcli.TGetColumnsReq) (*tcli.TGetColumnsResp, error) {
	co := h.co
	st, op, err := h.metadata(ctx, "GetColumns", req.SessionHandle, tcli.TOperationType_GET_COLUMNS,
		func() (*rowsResult, *sqlError) {
			r := &rowsResult{cols: mdColumns}
			if !emptyCatalog(req.CatalogName) {
				return r, nil
			}
			schema, perr := compilePattern(req.SchemaName)
			if perr != nil {
				return nil, perr
			}
			table, perr := compilePattern(req.TableName)
			if perr != nil {
				return nil, perr
			}
			column, perr := compilePattern(req.ColumnName)
			if perr != nil {
				return nil, perr
			}
			for _, t := range co.tablesMatching(schema, table, literal(req.TableName)) {
				for i, c := range t.cols {
					if !column.match(c.Name) {
						continue
					}
					r.rows = append(r.rows, []any{
						nil, t.db, t.name, c.Name, jdbcType(c.Type.Kind), strings.ToUpper(c.Type.Kind.String()),
						columnSize(c.Type), nil, decimalDigits(c.Type), precRadix(c.Type), int32(jdbcNullable),
						nil, nil, nil, nil, nil, int32(i + 1), "YES", nil, nil, nil, nil, "NO",
					})
				}
			}
			return r, nil
		})
	if err != nil {
		return nil, err
	}
	return &tcli.TGetColumnsResp{Status: st, OperationHandle: op}, nil
}

func (h *hs2Handler) GetFunctions(ctx context.Context, req *tcli.TGetFunctionsReq) (*tcli.TGetFunctionsResp, error) {
	// Impala lists the user functions of the matching databases; the test
	// coordinator has none (its builtins are not listed, as in Impala), so
	// the result set is always empty once the patterns are checked.
	st, op, err := h.metadata(ctx, "GetFunctions", req.SessionHandle, tcli.TOperationType_GET_FUNCTIONS,
		func() (*rowsResult, *sqlError) {
			if _, perr := compilePattern(req.SchemaName); perr != nil {
				return nil, perr
			}
			if _, perr := compilePattern(&req.FunctionName); perr != nil {
				return nil, perr
			}
			return &rowsResult{cols: mdFunctions}, nil
		})
	if err != nil {
		return nil, err
	}
	return &tcli.TGetFunctionsResp{Status: st, OperationHandle: op}, nil
}

// GetPrimaryKeys answers as MetadataOp.getPrimaryKeys: the primary key
// columns of the matching tables. The test coordinator's catalog has no
// constraints (CREATE TABLE refuses PRIMARY KEY), so the result set, with
// Impala's columns (its spelling "KEQ_SEQ" included), is empty once the
// patterns are checked. Impala leaves the handle's operation type unset.
func (h *hs2Handler) GetPrimaryKeys(ctx context.Context, req *tcli.TGetPrimaryKeysReq) (*tcli.TGetPrimaryKeysResp, error) {
	st, op, err := h.metadata(ctx, "GetPrimaryKeys", req.SessionHandle, tcli.TOperationType_EXECUTE_STATEMENT,
		func() (*rowsResult, *sqlError) {
			if _, perr := compilePattern(req.SchemaName); perr != nil {
				return nil, perr
			}
			if _, perr := compilePattern(req.TableName); perr != nil {
				return nil, perr
			}
			return &rowsResult{cols: mdPrimaryKeys}, nil
		})
	if err != nil {
		return nil, err
	}
	return &tcli.TGetPrimaryKeysResp{Status: st, OperationHandle: op}, nil
}

// GetCrossReference answers as MetadataOp.getCrossReference: the foreign
// keys of the matching tables, none in the test coordinator's catalog.
func (h *hs2Handler) GetCrossReference(ctx context.Context, req *tcli.TGetCrossReferenceReq) (*tcli.TGetCrossReferenceResp, error) {
	st, op, err := h.metadata(ctx, "GetCrossReference", req.SessionHandle, tcli.TOperationType_EXECUTE_STATEMENT,
		func() (*rowsResult, *sqlError) {
			if _, perr := compilePattern(req.ForeignSchemaName); perr != nil {
				return nil, perr
			}
			if _, perr := compilePattern(req.ForeignTableName); perr != nil {
				return nil, perr
			}
			return &rowsResult{cols: mdCrossReference}, nil
		})
	if err != nil {
		return nil, err
	}
	return &tcli.TGetCrossReferenceResp{Status: st, OperationHandle: op}, nil
}

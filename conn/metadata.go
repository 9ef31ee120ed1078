package conn

import (
	"context"
	"fmt"

	"github.com/impalalb/impalalb/internal/thrift/gen/impala"
	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// The metadata calls of HiveServer2 (GetCatalogs, GetSchemas, GetTables,
// GetTableTypes, GetColumns, GetFunctions, GetTypeInfo, GetPrimaryKeys,
// GetCrossReference): what JDBC's DatabaseMetaData, ODBC's catalog
// functions, impyla's get_tables and the BI tools built on them ask.
// Impala answers each from its catalog cache with a result set
// (fe/src/main/java/org/apache/impala/service/MetadataOp.java) that is
// fetched and closed like a query's. Beeswax has none of them.
//
// Their arguments are HiveServer2's: a name pattern is matched as JDBC
// defines it (% any run of characters, _ any one character, \% and \_
// the characters themselves; Impala keeps other characters' meaning in a
// Java regular expression and matches names case-insensitively), an
// identifier is a name as it is. nil (or "") matches everything. Impala
// has no catalogs: a catalog other than nil, "" or "%" matches nothing.

// metadataImpl is the protocol half of a metadata call; only
// *hs2Session has it.
type metadataImpl interface {
	metadata(ctx context.Context, m metadataCall) (*Operation, error)
}

// metadataCall is one metadata request: its name, for errors, and the
// call, made for the session handle h (a session that moved has another).
type metadataCall struct {
	name string
	call func(ctx context.Context, c *impala.ImpalaHiveServer2ServiceClient, h *tcli.TSessionHandle) (*tcli.TStatus, *tcli.TOperationHandle, error)
}

// GetCatalogs lists the catalogs: one column, TABLE_CAT. Impala has none,
// so its result has no rows.
func (s *Session) GetCatalogs(ctx context.Context) (*Operation, error) {
	return s.metadataOp(ctx, metadataCall{"GetCatalogs", func(ctx context.Context, c *impala.ImpalaHiveServer2ServiceClient, h *tcli.TSessionHandle) (*tcli.TStatus, *tcli.TOperationHandle, error) {
		return reply(c.GetCatalogs(ctx, &tcli.TGetCatalogsReq{SessionHandle: h}))
	}})
}

// GetSchemas lists the databases whose names match schemaPattern, in
// catalog (an identifier): columns TABLE_SCHEM and TABLE_CATALOG.
func (s *Session) GetSchemas(ctx context.Context, catalog, schemaPattern *string) (*Operation, error) {
	return s.metadataOp(ctx, metadataCall{"GetSchemas", func(ctx context.Context, c *impala.ImpalaHiveServer2ServiceClient, h *tcli.TSessionHandle) (*tcli.TStatus, *tcli.TOperationHandle, error) {
		return reply(c.GetSchemas(ctx, &tcli.TGetSchemasReq{SessionHandle: h,
			CatalogName: (*tcli.TIdentifier)(catalog), SchemaName: (*tcli.TPatternOrIdentifier)(schemaPattern)}))
	}})
}

// GetTables lists the tables and views whose database and name match the
// patterns and whose type is one of tableTypes (nil: any; Impala's types
// are "TABLE" and "VIEW"): columns TABLE_CAT, TABLE_SCHEM, TABLE_NAME,
// TABLE_TYPE, REMARKS.
func (s *Session) GetTables(ctx context.Context, catalogPattern, schemaPattern, tablePattern *string, tableTypes []string) (*Operation, error) {
	return s.metadataOp(ctx, metadataCall{"GetTables", func(ctx context.Context, c *impala.ImpalaHiveServer2ServiceClient, h *tcli.TSessionHandle) (*tcli.TStatus, *tcli.TOperationHandle, error) {
		return reply(c.GetTables(ctx, &tcli.TGetTablesReq{SessionHandle: h,
			CatalogName: (*tcli.TPatternOrIdentifier)(catalogPattern), SchemaName: (*tcli.TPatternOrIdentifier)(schemaPattern),
			TableName: (*tcli.TPatternOrIdentifier)(tablePattern), TableTypes: tableTypes}))
	}})
}

// GetTableTypes lists the table types GetTables knows: one column,
// TABLE_TYPE.
func (s *Session) GetTableTypes(ctx context.Context) (*Operation, error) {
	return s.metadataOp(ctx, metadataCall{"GetTableTypes", func(ctx context.Context, c *impala.ImpalaHiveServer2ServiceClient, h *tcli.TSessionHandle) (*tcli.TStatus, *tcli.TOperationHandle, error) {
		return reply(c.GetTableTypes(ctx, &tcli.TGetTableTypesReq{SessionHandle: h}))
	}})
}

// GetColumns lists the columns whose database, table and name match the
// patterns, in catalog (an identifier), with JDBC's columns (COLUMN_NAME,
// DATA_TYPE as java.sql.Types, TYPE_NAME, COLUMN_SIZE, DECIMAL_DIGITS,
// ORDINAL_POSITION, ...; Impala spells the second one TABLE_MD).
func (s *Session) GetColumns(ctx context.Context, catalog, schemaPattern, tablePattern, columnPattern *string) (*Operation, error) {
	return s.metadataOp(ctx, metadataCall{"GetColumns", func(ctx context.Context, c *impala.ImpalaHiveServer2ServiceClient, h *tcli.TSessionHandle) (*tcli.TStatus, *tcli.TOperationHandle, error) {
		return reply(c.GetColumns(ctx, &tcli.TGetColumnsReq{SessionHandle: h,
			CatalogName: (*tcli.TIdentifier)(catalog), SchemaName: (*tcli.TPatternOrIdentifier)(schemaPattern),
			TableName: (*tcli.TPatternOrIdentifier)(tablePattern), ColumnName: (*tcli.TPatternOrIdentifier)(columnPattern)}))
	}})
}

// GetFunctions lists the functions whose database and name match the
// patterns, in catalog (an identifier): columns FUNCTION_CAT,
// FUNCTION_SCHEM, FUNCTION_NAME, REMARKS, FUNCTION_TYPE, SPECIFIC_NAME.
// HiveServer2 requires a function pattern: nil sends "%". Impala lists
// the user functions of the databases, not its builtins.
func (s *Session) GetFunctions(ctx context.Context, catalog, schemaPattern, functionPattern *string) (*Operation, error) {
	fn := tcli.TPatternOrIdentifier("%")
	if functionPattern != nil {
		fn = tcli.TPatternOrIdentifier(*functionPattern)
	}
	return s.metadataOp(ctx, metadataCall{"GetFunctions", func(ctx context.Context, c *impala.ImpalaHiveServer2ServiceClient, h *tcli.TSessionHandle) (*tcli.TStatus, *tcli.TOperationHandle, error) {
		return reply(c.GetFunctions(ctx, &tcli.TGetFunctionsReq{SessionHandle: h,
			CatalogName: (*tcli.TIdentifier)(catalog), SchemaName: (*tcli.TPatternOrIdentifier)(schemaPattern), FunctionName: fn}))
	}})
}

// GetTypeInfo lists the SQL types the coordinator supports, with JDBC's
// columns (TYPE_NAME, DATA_TYPE, PRECISION, ..., NUM_PREC_RADIX).
func (s *Session) GetTypeInfo(ctx context.Context) (*Operation, error) {
	return s.metadataOp(ctx, metadataCall{"GetTypeInfo", func(ctx context.Context, c *impala.ImpalaHiveServer2ServiceClient, h *tcli.TSessionHandle) (*tcli.TStatus, *tcli.TOperationHandle, error) {
		return reply(c.GetTypeInfo(ctx, &tcli.TGetTypeInfoReq{SessionHandle: h}))
	}})
}

// GetPrimaryKeys lists the primary key columns of the tables named by
// catalog, schema and table (identifiers): columns TABLE_CAT,
// TABLE_SCHEM, TABLE_NAME, COLUMN_NAME, KEQ_SEQ (Impala's spelling),
// PK_NAME. Impala (4.0 and later) knows the keys of Kudu tables and the
// constraints declared on others.
func (s *Session) GetPrimaryKeys(ctx context.Context, catalog, schema, table *string) (*Operation, error) {
	return s.metadataOp(ctx, metadataCall{"GetPrimaryKeys", func(ctx context.Context, c *impala.ImpalaHiveServer2ServiceClient, h *tcli.TSessionHandle) (*tcli.TStatus, *tcli.TOperationHandle, error) {
		return reply(c.GetPrimaryKeys(ctx, &tcli.TGetPrimaryKeysReq{SessionHandle: h,
			CatalogName: (*tcli.TIdentifier)(catalog), SchemaName: (*tcli.TIdentifier)(schema), TableName: (*tcli.TIdentifier)(table)}))
	}})
}

// GetCrossReference lists the foreign keys of the foreign table that
// refer to the parent table (each named by catalog, schema and table
// identifiers), with JDBC's columns (PKTABLE_NAME, PKCOLUMN_NAME,
// FKTABLE_NAME, FKCOLUMN_NAME, KEQ_SEQ, ...).
func (s *Session) GetCrossReference(ctx context.Context, parentCatalog, parentSchema, parentTable, foreignCatalog, foreignSchema, foreignTable *string) (*Operation, error) {
	return s.metadataOp(ctx, metadataCall{"GetCrossReference", func(ctx context.Context, c *impala.ImpalaHiveServer2ServiceClient, h *tcli.TSessionHandle) (*tcli.TStatus, *tcli.TOperationHandle, error) {
		return reply(c.GetCrossReference(ctx, &tcli.TGetCrossReferenceReq{SessionHandle: h,
			ParentCatalogName: (*tcli.TIdentifier)(parentCatalog), ParentSchemaName: (*tcli.TIdentifier)(parentSchema),
			ParentTableName: (*tcli.TIdentifier)(parentTable), ForeignCatalogName: (*tcli.TIdentifier)(foreignCatalog),
			ForeignSchemaName: (*tcli.TIdentifier)(foreignSchema), ForeignTableName: (*tcli.TIdentifier)(foreignTable)}))
	}})
}

// reply is a metadata call's status and operation handle.
func reply[R any, P interface {
	*R
	GetStatus() *tcli.TStatus
	GetOperationHandle() *tcli.TOperationHandle
}](r P, err error) (*tcli.TStatus, *tcli.TOperationHandle, error) {
	if err != nil || r == nil {
		return nil, nil, err
	}
	return r.GetStatus(), r.GetOperationHandle(), nil
}

// metadataOp runs a metadata call as Execute runs a statement: the
// session is made ready first, and a call refused without running
// (ErrShuttingDown, ErrSessionGone: Impala's metadata calls check both
// first) or never sent is made again after a reattach or a move. The
// Operation counts as the session's until it is closed.
func (s *Session) metadataOp(ctx context.Context, m metadataCall) (*Operation, error) {
	if _, ok := s.impl.(metadataImpl); !ok {
		return nil, &Error{Addr: s.Addr(), Op: OpMetadataCall, Err: fmt.Errorf("%w (%s)", ErrNoMetadataCalls, m.name)}
	}
	return s.runOp(ctx, func() (*Operation, error) {
		// After a move the session is another of the same protocol.
		return s.impl.(metadataImpl).metadata(ctx, m)
	})
}

// metadata makes the call and reads its result set's columns; the rows
// are fetched by the Operation. A server other than Impala may run the
// call asynchronously: its status is polled first.
func (s *hs2Session) metadata(ctx context.Context, m metadataCall) (*Operation, error) {
	var (
		st *tcli.TStatus
		h  *tcli.TOperationHandle
	)
	if err := s.rpc(ctx, OpMetadataCall, false, func(ctx context.Context, c *impala.ImpalaHiveServer2ServiceClient) (err error) {
		st, h, err = m.call(ctx, c, s.handle)
		return err
	}); err != nil {
		return nil, err
	}
	if err := s.statusError(OpMetadataCall, st, false); err != nil {
		return nil, err
	}
	if h == nil || h.OperationId == nil {
		return nil, &Error{Addr: s.addr, Op: OpMetadataCall, Err: fmt.Errorf("%w: %s returned no operation handle", ErrNotImpala, m.name)}
	}
	o := &hs2Op{s: s, h: h}
	op := &Operation{impl: o, addr: s.addr, fetchSize: s.opts.FetchSize, pollMin: s.opts.PollMin, pollMax: s.opts.PollMax, rows: -1, hasResults: true}
	op.queryID = queryIDFromGUID(h.OperationId.GUID)
	if s.opts.AllowNonImpala {
		if err := o.wait(ctx); err != nil {
			return nil, tagQuery(err, op.queryID)
		}
	}
	cols, err := o.columns(ctx)
	if err != nil {
		return nil, tagQuery(err, op.queryID)
	}
	op.cols, o.cols = cols, cols
	return op, nil
}

package impalalb

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/impalalb/impalalb/conn"
)

// endedCtx is a context that has ended.
var endedCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// closeTimeout bounds cancelling and closing an operation when rows are
// closed, whatever happened to the query's ctx.
const closeTimeout = conn.DefaultCancelTimeout

// rows is the driver.Rows of a query: it reads the operation's columnar
// batches and hands out one row at a time.
//
// Values are handed to database/sql without an allocation per cell: a
// driver.Value of a fixed-width type (and of a string or []byte the batch
// already holds) is an interface that points into the batch, or into one
// slice per column and batch for values converted on the way (TINYINT to
// INT widened to int64, TIMESTAMP and DATE parsed into time.Time). Those
// slices are never written again once a value points into them, so a
// value kept by the caller (Scan into *any) stays what it was.
type rows struct {
	cn     *sqlConn
	op     *conn.Operation
	ctx    context.Context
	cancel context.CancelFunc
	cols   []conn.Column
	names  []string

	b    *conn.Batch
	next int // next row of b
	n    int // rows in b
	vals []colView

	// From the second batch on, one goroutine fetches the batches that
	// follow while the caller reads the current one, up to prefetchDepth
	// ahead, so that the coordinator's work, the network and the decoding
	// overlap with the caller's. pctx (from ctx) is cancelled by Close to
	// stop a fetch still in flight; the operation is then cancelled on the
	// coordinator. pending is closed when the goroutine ends.
	pctx     context.Context
	pcancel  context.CancelFunc
	pending  chan fetched
	inflight bool // the prefetch goroutine runs (until pending is drained)
	batches  int  // batches fetched so far

	eof    bool // every row was read
	failed bool // a fetch failed; the operation is closed
	closed bool

	// hidden are the statement's secret arguments, hidden from its errors.
	hidden argSecrets
}

var (
	_ driver.Rows                           = (*rows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*rows)(nil)
	_ driver.RowsColumnTypeScanType         = (*rows)(nil)
	_ driver.RowsColumnTypeNullable         = (*rows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*rows)(nil)
	_ driver.RowsColumnTypeLength           = (*rows)(nil)
)

// viewMode says how a column of the current batch becomes driver values.
type viewMode uint8

const (
	viewNull          viewMode = iota // no values: every cell is NULL
	viewBool                          // bools
	viewInt64                         // i64 (BIGINT as sent, or widened)
	viewFloat64                       // f64 (FLOAT and DOUBLE)
	viewString                        // str
	viewBytes                         // bin, handed out as copies
	viewTime                          // str or bin, parsed into tm
	viewStringAsBytes                 // str copied into a []byte (BINARY sent as text)
	viewBytesAsString                 // bin copied into a string
)

// colView is one column of the current batch, by the slice that holds it.
type colView struct {
	mode  viewMode
	nulls []byte
	bools []bool
	i64   []int64
	f64   []float64
	str   []string
	bin   [][]byte
	tm    []time.Time
	bad   []byte // viewTime: bit set for a value that is not a timestamp (nil: none; not written)
}

func newRows(ctx context.Context, cn *sqlConn, op *conn.Operation, cancel context.CancelFunc) *rows {
	cols := op.Columns()
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	r := &rows{cn: cn, op: op, ctx: ctx, cancel: cancel, cols: cols, names: names, vals: make([]colView, len(cols))}
	if !parseTimesInDriver.Load() {
		// TIMESTAMP and DATE values come parsed, without their text.
		op.SetDecodeTimes(true)
	}
	if !op.HasResultSet() {
		r.eof = true
	}
	return r
}

// fetched is the outcome of one fetch: the batch and its column views.
type fetched struct {
	b    *conn.Batch
	vals []colView
	err  error
}

// prefetchDepth is how many decoded batches the prefetch goroutine may hold
// ready beyond the one the caller reads (each about FetchSize rows).
const prefetchDepth = 2

// prefetch starts the goroutine that fetches the batches after the current
// one until the last, an error, or Close.
func (r *rows) prefetch() {
	r.pending = make(chan fetched, prefetchDepth-1)
	r.pctx, r.pcancel = context.WithCancel(r.ctx)
	r.inflight = true
	go func() {
		defer close(r.pending)
		for {
			b, err := r.op.Next(r.pctx)
			var vals []colView
			if err == nil {
				// The column views (integers widened, timestamps parsed)
				// are built here too, off the caller's path.
				vals = r.views(b)
			}
			// Sent even after Close cancelled pctx: Close drains the
			// channel to learn how the fetches ended. Once pctx has
			// ended (Close, or the query's ctx), the next Next returns
			// at once with its error (or io.EOF after the last row),
			// which ends the loop: the goroutine always ends by sending
			// an error.
			r.pending <- fetched{b, vals, err}
			if err != nil {
				return
			}
		}
	}()
}

// wait returns the next batch of the prefetch goroutine.
func (r *rows) wait() fetched {
	f, ok := <-r.pending
	if !ok {
		// Not reached: the goroutine ends by sending an error, after
		// which wait is not called again. Never taken as the end of
		// the rows.
		r.inflight = false
		return fetched{err: errors.New("impalalb: internal error: the prefetch of the next rows ended without a result")}
	}
	if f.err != nil {
		r.inflight = false
	}
	return f
}

// views returns the column views of b. It reads only r.cols, which never
// changes, so the prefetch goroutine may call it.
func (r *rows) views(b *conn.Batch) []colView {
	vals := make([]colView, len(r.cols))
	for i := range vals {
		vals[i] = viewOf(b, i, r.cols[i].Type)
	}
	return vals
}

// Columns implements driver.Rows.
func (r *rows) Columns() []string { return r.names }

// Next implements driver.Rows. It fetches the next batch when the current
// one is used up (fetch_size rows at a time); the query's ctx, with
// query_timeout applied, bounds the fetch, and its end cancels the query
// on the coordinator.
func (r *rows) Next(dest []driver.Value) error {
	if r.closed {
		return io.EOF
	}
	for r.next >= r.n {
		if r.eof || r.failed {
			return io.EOF
		}
		if err := r.fetch(); err != nil {
			return err
		}
	}
	row := r.next
	r.next++
	for i := range dest {
		c := &r.vals[i]
		if j := row >> 3; j < len(c.nulls) && c.nulls[j]&(1<<(row&7)) != 0 {
			dest[i] = nil
			continue
		}
		switch c.mode {
		case viewBool:
			dest[i] = c.bools[row] // no allocation: bools are static
		case viewInt64:
			dest[i] = boxInt64(&c.i64[row])
		case viewFloat64:
			dest[i] = boxFloat64(&c.f64[row])
		case viewString:
			dest[i] = boxString(&c.str[row])
		case viewBytes:
			// A copy: database/sql hands a sql.RawBytes destination the
			// driver's slice as it is, for the caller to modify.
			dest[i] = bytes.Clone(c.bin[row])
		case viewTime:
			if j := row >> 3; j < len(c.bad) && c.bad[j]&(1<<(row&7)) != 0 {
				// Not a timestamp after all: hand out the text, as
				// conn.Batch.Value does.
				switch {
				case c.str != nil:
					dest[i] = c.str[row]
				case c.bin != nil:
					dest[i] = string(c.bin[row])
				default:
					dest[i] = r.b.String(i, row) // the text conn kept
				}
				continue
			}
			dest[i] = boxTime(&c.tm[row])
		case viewStringAsBytes:
			dest[i] = []byte(c.str[row])
		case viewBytesAsString:
			dest[i] = string(c.bin[row])
		default:
			dest[i] = nil
		}
	}
	return nil
}

// fetch reads the next batch into the column views, and starts fetching
// the one after.
func (r *rows) fetch() error {
	var f fetched
	if r.inflight {
		f = r.wait()
	} else {
		f.b, f.err = r.op.Next(r.ctx)
		if f.err == nil {
			f.vals = r.views(f.b)
		}
	}
	b, err := f.b, f.err
	if err == io.EOF { //nolint:errorlint // io.EOF itself is the end of the rows; a wrapped one is a broken connection
		r.eof = true
		r.b, r.n, r.next = nil, 0, 0
		return io.EOF
	}
	if err != nil {
		r.failed = true
		r.cn.noteError(err)
		return r.hidden.scrub(err)
	}
	r.b, r.n, r.next, r.vals = b, b.Len(), 0, f.vals
	// From the second batch on the result is a large one: fetch ahead.
	// Small results (one batch) start no goroutine.
	r.batches++
	if r.batches == 2 {
		r.prefetch()
	}
	return nil
}

// viewOf sets up column col of b by the slice the coordinator's data came
// in, converting whole integer columns narrower than 64 bits and parsing
// whole TIMESTAMP and DATE columns at once.
func viewOf(b *conn.Batch, col int, t conn.Type) colView {
	v := colView{nulls: b.Nulls(col)}
	n := b.Len()
	switch {
	case b.Bools(col) != nil:
		v.mode, v.bools = viewBool, b.Bools(col)
	case b.Int64s(col) != nil:
		v.mode, v.i64 = viewInt64, b.Int64s(col)
	case b.Int32s(col) != nil:
		v.mode, v.i64 = viewInt64, widen(b.Int32s(col))
	case b.Int16s(col) != nil:
		v.mode, v.i64 = viewInt64, widen(b.Int16s(col))
	case b.Int8s(col) != nil:
		v.mode, v.i64 = viewInt64, widen(b.Int8s(col))
	case b.Float64s(col) != nil:
		v.mode, v.f64 = viewFloat64, b.Float64s(col)
	case b.Times(col) != nil:
		// Parsed by conn as it read the batch (SetDecodeTimes).
		v.mode, v.tm, v.bad = viewTime, b.Times(col), b.BadTimes(col)
	case b.Strings(col) != nil:
		v.str = b.Strings(col)
		switch t {
		case conn.TypeTimestamp, conn.TypeDate:
			v.mode = viewTime
			parseTimes(&v, n, func(row int) string { return v.str[row] })
		case conn.TypeBinary:
			v.mode = viewStringAsBytes
		default:
			v.mode = viewString
		}
	case b.Binaries(col) != nil:
		v.bin = b.Binaries(col)
		switch t {
		case conn.TypeTimestamp, conn.TypeDate:
			v.mode = viewTime
			parseTimes(&v, n, func(row int) string { return string(v.bin[row]) })
		case conn.TypeBinary:
			v.mode = viewBytes
		default:
			v.mode = viewBytesAsString
		}
	default:
		v.mode = viewNull
		// Every cell is NULL: a bitmap with every bit set says so.
		v.nulls = allNulls(n)
	}
	return v
}

// parseTimesInDriver, false but in tests that compare, makes rows parse
// the text of TIMESTAMP and DATE columns itself (parseTimes) instead of
// asking conn to decode them into times as it reads them
// (conn.Operation.SetDecodeTimes), which saves the text.
var parseTimesInDriver atomic.Bool

// parseTimes parses the n values of a TIMESTAMP or DATE column into v.tm
// (text(row) is the text of row), skipping NULLs, and marks in v.bad the
// ones that do not parse.
func parseTimes(v *colView, n int, text func(row int) string) {
	v.tm = make([]time.Time, n)
	for row := range n {
		if j := row >> 3; j < len(v.nulls) && v.nulls[j]&(1<<(row&7)) != 0 {
			continue
		}
		t, err := conn.ParseTimestamp(text(row))
		if err != nil {
			if v.bad == nil {
				v.bad = make([]byte, (n+7)/8)
			}
			v.bad[row>>3] |= 1 << (row & 7)
			continue
		}
		v.tm[row] = t
	}
}

func widen[T int8 | int16 | int32](s []T) []int64 {
	out := make([]int64, len(s))
	for i, x := range s {
		out[i] = int64(x)
	}
	return out
}

func allNulls(n int) []byte {
	b := make([]byte, (n+7)/8)
	for i := range b {
		b[i] = 0xff
	}
	return b
}

// Close implements driver.Rows. When rows remain, the query is cancelled
// on the coordinator first; then the operation is closed. Both are bounded
// by their own short deadline, so that a query whose ctx ended is still
// cleaned up.
func (r *rows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	defer r.cancel()
	defer func() { r.cn.lastUsed = time.Now() }()
	r.b, r.vals = nil, nil
	if r.inflight {
		// Stop the prefetch goroutine: a fetch it has in flight is cut,
		// and conn then cancels and closes the operation on the
		// coordinator. What it sends until it ends says how.
		r.pcancel()
		for f := range r.pending {
			switch {
			case f.err == io.EOF: //nolint:errorlint // io.EOF itself is the end of the rows; a wrapped one is a broken connection
				r.eof = true
			case f.err != nil:
				r.failed = true
				r.cn.noteError(f.err)
			}
		}
		r.inflight = false
	}
	if r.pcancel != nil {
		r.pcancel()
	}
	if !r.eof && !r.failed {
		// Every row read may also mean every row fetched (QueryRow reads
		// one row of a one-batch result). Asked with a ctx that has
		// already ended, conn's Next says io.EOF without a round trip when
		// the operation has no more rows; otherwise it sends nothing and
		// cancels and closes the operation on the coordinator.
		switch _, err := r.op.Next(endedCtx); {
		case err == io.EOF:
			r.eof = true
		case err != nil:
			r.failed = true
		}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), closeTimeout)
	defer cancel()
	if r.failed {
		// The fetch error was reported by Next; the operation is closed
		// already, or closes now with the session's help.
		_ = r.op.Close(ctx)
		return nil
	}
	if !r.eof {
		_ = r.op.Cancel(ctx)
	}
	if err := r.op.Close(ctx); err != nil {
		r.cn.noteError(err)
		if !r.eof && errors.Is(err, conn.ErrOperationCanceled) {
			return nil
		}
		return r.hidden.scrub(err)
	}
	return nil
}

// ColumnTypeDatabaseTypeName implements
// driver.RowsColumnTypeDatabaseTypeName: Impala's upper-case type name
// without parameters ("INT", "DECIMAL", "VARCHAR", "TIMESTAMP").
func (r *rows) ColumnTypeDatabaseTypeName(i int) string { return r.cols[i].TypeName }

var (
	scanNullBool    = reflect.TypeFor[sql.NullBool]()
	scanNullInt8    = reflect.TypeFor[sql.Null[int8]]()
	scanNullInt16   = reflect.TypeFor[sql.NullInt16]()
	scanNullInt32   = reflect.TypeFor[sql.NullInt32]()
	scanNullInt64   = reflect.TypeFor[sql.NullInt64]()
	scanNullFloat32 = reflect.TypeFor[sql.Null[float32]]()
	scanNullFloat64 = reflect.TypeFor[sql.NullFloat64]()
	scanNullString  = reflect.TypeFor[sql.NullString]()
	scanNullTime    = reflect.TypeFor[sql.NullTime]()
	scanBytes       = reflect.TypeFor[[]byte]()
	scanAny         = reflect.TypeFor[any]()
)

// ColumnTypeScanType implements driver.RowsColumnTypeScanType. Impala
// does not say whether a result column can be NULL, so every column may
// be, and the types are the nullable ones: sql.NullBool, sql.Null[int8]
// (TINYINT), sql.NullInt16, sql.NullInt32, sql.NullInt64,
// sql.Null[float32] (FLOAT), sql.NullFloat64, sql.NullString (DECIMAL,
// STRING, VARCHAR, CHAR, and other types), sql.NullTime (TIMESTAMP,
// DATE), []byte (BINARY; nil for NULL), any for the NULL type.
func (r *rows) ColumnTypeScanType(i int) reflect.Type {
	switch r.cols[i].Type {
	case conn.TypeBoolean:
		return scanNullBool
	case conn.TypeTinyInt:
		return scanNullInt8
	case conn.TypeSmallInt:
		return scanNullInt16
	case conn.TypeInt:
		return scanNullInt32
	case conn.TypeBigInt:
		return scanNullInt64
	case conn.TypeFloat:
		return scanNullFloat32
	case conn.TypeDouble:
		return scanNullFloat64
	case conn.TypeTimestamp, conn.TypeDate:
		return scanNullTime
	case conn.TypeBinary:
		return scanBytes
	case conn.TypeNull:
		return scanAny
	}
	return scanNullString
}

// ColumnTypeNullable implements driver.RowsColumnTypeNullable: every
// Impala result column may hold NULL.
func (r *rows) ColumnTypeNullable(i int) (nullable, ok bool) { return r.cols[i].Nullable, true }

// ColumnTypePrecisionScale implements
// driver.RowsColumnTypePrecisionScale for DECIMAL columns; not ok when the
// coordinator did not say them (beeswax: conn.UnknownSize).
func (r *rows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	c := r.cols[i]
	if c.Type != conn.TypeDecimal || c.Precision == conn.UnknownSize || c.Scale == conn.UnknownSize {
		return 0, 0, false
	}
	return int64(c.Precision), int64(c.Scale), true
}

// ColumnTypeLength implements driver.RowsColumnTypeLength: the declared
// length of CHAR and VARCHAR (not ok when the coordinator did not say it:
// beeswax), math.MaxInt64 for STRING and BINARY (no limit but the
// system's), and not ok for the other types.
func (r *rows) ColumnTypeLength(i int) (length int64, ok bool) {
	c := r.cols[i]
	switch c.Type {
	case conn.TypeChar, conn.TypeVarchar:
		if c.Length == conn.UnknownSize {
			return 0, false
		}
		return int64(c.Length), true
	case conn.TypeString, conn.TypeBinary:
		return math.MaxInt64, true
	}
	return 0, false
}

// Decimal is an exact DECIMAL value to Scan into. DECIMAL columns arrive
// as their exact decimal text ("-50.00"), which database/sql scans into a
// string by default (or into a float64, rounding); Decimal parses that
// text into a big.Rat instead:
//
//	var d impalalb.Decimal
//	err := db.QueryRow("select price from sales limit 1").Scan(&d)
//	// d.Valid is false for NULL; d.Rat holds the value exactly; d.Scale
//	// is the number of digits after the point, as Impala printed it.
//
// As an argument, a Decimal becomes its exact text, a string literal that
// Impala casts where a DECIMAL is expected (NULL when not Valid).
type Decimal struct {
	// Rat is the value; nil when not Valid.
	Rat *big.Rat
	// Scale is the number of digits after the decimal point of the text
	// scanned, the column's scale.
	Scale int
	// Valid is false for NULL.
	Valid bool
}

var (
	_ sql.Scanner   = (*Decimal)(nil)
	_ driver.Valuer = Decimal{}
)

// Scan implements sql.Scanner: src is the decimal text (string or
// []byte), an int64 or nil. Floats are refused: they are not exact.
func (d *Decimal) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d = Decimal{}
		return nil
	case string:
		return d.parse(v)
	case []byte:
		return d.parse(string(v))
	case int64:
		*d = Decimal{Rat: new(big.Rat).SetInt64(v), Valid: true}
		return nil
	}
	return fmt.Errorf("impalalb: Decimal.Scan: cannot scan %T into an exact decimal", src)
}

func (d *Decimal) parse(s string) error {
	s = strings.TrimSpace(s)
	scale := 0
	if i := strings.IndexByte(s, '.'); i >= 0 {
		scale = len(s) - i - 1
	}
	if s == "" || strings.ContainsAny(s, "eE/") {
		return fmt.Errorf("impalalb: Decimal.Scan: %q is not a decimal number", s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return fmt.Errorf("impalalb: Decimal.Scan: %q is not a decimal number", s)
	}
	*d = Decimal{Rat: r, Scale: scale, Valid: true}
	return nil
}

// String returns the value with Scale digits after the point, or "NULL".
func (d Decimal) String() string {
	if !d.Valid || d.Rat == nil {
		return "NULL"
	}
	return d.Rat.FloatString(d.Scale)
}

// Value implements driver.Valuer: the exact text, or nil when not Valid.
func (d Decimal) Value() (driver.Value, error) {
	if !d.Valid || d.Rat == nil {
		return nil, nil
	}
	return d.Rat.FloatString(d.Scale), nil
}

package impalad

import (
	"sort"
	"strconv"
	"time"
)

// Bounds on the work and memory of one SELECT: a generated table can have
// billions of rows, and statements run while the coordinator is locked.
const (
	// maxScanRows is the most rows of a generated table that WHERE,
	// ORDER BY or an aggregate reads.
	maxScanRows = 20_000_000
	// maxKeptRows is the most rows a filtered or sorted result keeps (as
	// row numbers; values are computed when fetched).
	maxKeptRows = 1 << 20
)

// tableSource is the FROM table of a SELECT: a generated table (values
// from GenValue) or a snapshot of a catalog table's rows.
type tableSource struct {
	name string
	cols []Column
	n    int64
	rows [][]any // nil for a generated table
	gen  bool
}

// rowRef addresses one row of a source; its get is the row function that
// eval takes.
type rowRef struct {
	src *tableSource
	i   int64
}

func (r *rowRef) get(c int) any {
	if r.src.gen {
		return GenValue(c, r.i)
	}
	return r.src.rows[r.i][c]
}

// localNow is now() in Impala's sense: the coordinator's local wall clock
// (held, like every TIMESTAMP here, as a UTC time.Time), to the microsecond.
func localNow() time.Time {
	n := time.Now()
	return time.Date(n.Year(), n.Month(), n.Day(), n.Hour(), n.Minute(), n.Second(), n.Nanosecond()/1000*1000, time.UTC)
}

func tooManyRows(what string, src *tableSource, limit int64) *sqlError {
	return unsupported("%s over more than %d rows (%s has %d rows)", what, limit, src.name, src.n)
}

// selectFrom analyzes and runs a SELECT over src. A run-time error of an
// expression evaluated now (a WHERE, ORDER BY, an aggregate, or a result
// small enough to compute at once) fails the statement when it ends, as in
// Impala; one met later fails the fetch that meets it.
//
//nolint:gocognit // SELECT's steps in Impala's order (items, DISTINCT, WHERE, GROUP BY, HAVING, ORDER BY, LIMIT) over shared state
func selectFrom(st *statement, src *tableSource, env *evalEnv, op *operation) (res result, extra time.Duration, serr *sqlError) {
	sc := &scope{cols: src.cols, env: env, allowAgg: true}
	var items []*expr
	var outCols []Column
	defer func() {
		if r := recover(); r != nil {
			u, ok := r.(udfError)
			if !ok {
				panic(r)
			}
			op.failMsg = u.status()
			res, extra, serr = &rowsResult{cols: outCols}, sc.sleep, nil
		}
		if serr == nil {
			res = withPrintScales(res, items)
		}
	}()
	for _, it := range st.items {
		if it.e.kind == "star" {
			if !st.hasFrom {
				return nil, 0, analysisError("'*' expression in select list requires FROM clause.")
			}
			for i, c := range src.cols {
				items = append(items, &expr{kind: "col", name: c.Name, col: i, typ: c.Type, label: c.Name, depth: 1})
				outCols = append(outCols, c)
				sc.bareCols = append(sc.bareCols, "*")
			}
			continue
		}
		if err := analyze(it.e, sc); err != nil {
			return nil, 0, err
		}
		// Impala labels a column reference by the column's name, without
		// its table qualifier.
		name := it.alias
		switch {
		case name != "":
		case it.e.kind == "col":
			name = it.e.name
		default:
			name = it.e.sql()
		}
		items = append(items, it.e)
		outCols = append(outCols, Column{Name: name, Type: it.e.typ})
	}
	itemsBare := len(sc.bareCols)
	groupKeys, err := groupByKeys(st, items, sc)
	if err != nil {
		return nil, 0, err
	}
	if st.distinct && len(groupKeys) == 0 && len(sc.aggs) == 0 {
		// SELECT DISTINCT is a GROUP BY of every item.
		groupKeys = items
	}
	grouped := len(groupKeys) > 0
	aggregate := len(sc.aggs) > 0 || grouped
	if grouped {
		for _, e := range items {
			if !boundBy(e, groupKeys) {
				return nil, 0, analysisError("select list expression not produced by aggregation output (missing from GROUP BY clause?): %s", e.sql())
			}
		}
	} else if aggregate && len(sc.bareCols) > 0 {
		return nil, 0, analysisError("select list expression not produced by aggregation output (missing from GROUP BY clause?): %s", sc.bareCols[0])
	}
	where := st.where
	if where != nil {
		sc.allowAgg, sc.clause = false, "WHERE clause"
		if err := analyze(where, sc); err != nil {
			return nil, 0, err
		}
		if where.typ.Kind != Boolean {
			return nil, 0, analysisError("WHERE clause '%s' requires return type 'BOOLEAN'. Actual type is '%s'.", where.sql(), typeName(where.typ))
		}
	}
	having := st.having
	if having != nil {
		sc.allowAgg, sc.clause = true, "HAVING clause"
		bare := len(sc.bareCols)
		if err := analyze(having, sc); err != nil {
			return nil, 0, err
		}
		if !grouped && (len(sc.bareCols) > bare || itemsBare > 0) {
			return nil, 0, analysisError("HAVING clause must not contain non-aggregated columns: %s", having.sql())
		}
		if having.typ.Kind != Boolean {
			return nil, 0, analysisError("HAVING clause '%s' requires return type 'BOOLEAN'. Actual type is '%s'.", having.sql(), typeName(having.typ))
		}
		if len(sc.aggs) == 0 && !grouped {
			return nil, 0, analysisError("HAVING clause must not contain non-aggregated columns: %s", having.sql())
		}
		aggregate = true
	}
	keys, err := orderKeys(st, items, sc, aggregate)
	if err != nil {
		return nil, 0, err
	}
	if sc.failMsg != "" {
		op.failMsg = sc.failMsg
	}
	extra = sc.sleep

	if grouped {
		r, err := groupRows(src, where, groupKeys, sc.aggs, having, items, keys, st.limit)
		if err != nil {
			return nil, 0, err
		}
		r.cols = outCols
		return r, extra, nil
	}
	if aggregate {
		if err := aggregateRows(src, where, sc.aggs); err != nil {
			return nil, 0, err
		}
		r := &rowsResult{cols: outCols}
		if st.limit != 0 && (having == nil || having.eval(nil) == true) {
			row := make([]any, len(items))
			for i, e := range items {
				row[i] = e.eval(nil)
			}
			r.rows = [][]any{row}
		}
		return r, extra, nil
	}

	// Plain columns of a whole table: the fast paths.
	plain := where == nil && len(keys) == 0 && st.hasFrom
	proj := make([]int, len(items))
	for i, e := range items {
		if e.kind != "col" {
			plain = false
			break
		}
		proj[i] = e.col
	}
	n := src.n
	if st.limit >= 0 && st.limit < n {
		n = st.limit
	}
	if plain && src.gen {
		return &genResult{cols: outCols, proj: proj, n: n}, extra, nil
	}
	if plain {
		r := &rowsResult{cols: outCols, rows: make([][]any, n)}
		for i := range n {
			out := make([]any, len(proj))
			for j, p := range proj {
				out[j] = src.rows[i][p]
			}
			r.rows[i] = out
		}
		return r, extra, nil
	}
	er := &exprResult{cols: outCols, items: items, src: src, n: n}
	if where == nil && len(keys) == 0 {
		return materializeSmall(er), extra, nil
	}
	idx, serr := filterRows(src, where, keys, st.limit)
	if serr != nil {
		return nil, 0, serr
	}
	if len(keys) > 0 {
		sortRows(src, idx, keys)
		if st.limit >= 0 && int64(len(idx)) > st.limit {
			idx = idx[:st.limit]
		}
	}
	er.idx, er.n = idx, int64(len(idx))
	return materializeSmall(er), extra, nil
}

// scaledResult is a result some of whose DOUBLE columns beeswax prints
// with a fixed number of decimals (printScale).
type scaledResult struct {
	result
	scales []int // per column; -1: as FormatValue prints
}

func (r *scaledResult) printScale(col int) int { return r.scales[col] }

// withPrintScales gives res the print scales of its items: as
// ScalarFnCall::OpenEvaluator (be/src/exprs/scalar-fn-call.cc), a select
// item that is round(DOUBLE, d) prints with d decimals in beeswax's text
// rows.
func withPrintScales(res result, items []*expr) result {
	var scales []int
	for i, e := range items {
		if e.kind != "func" || e.name != "round" || e.typ.Kind != Double || len(e.args) != 2 || !e.args[1].isValue() {
			continue
		}
		d, ok := toInt64(e.args[1].val)
		if !ok || d < 0 {
			continue
		}
		if scales == nil {
			scales = make([]int, len(items))
			for j := range scales {
				scales[j] = -1
			}
		}
		scales[i] = int(d)
	}
	if scales == nil {
		return res
	}
	return &scaledResult{result: res, scales: scales}
}

// materializeSmall computes a result of at most one batch now, so that a
// run-time error in it fails the statement before its first fetch, as
// Impala's coordinator produces the first rows ahead of the client.
func materializeSmall(r *exprResult) result {
	if r.n > batchSize {
		return r
	}
	rows := make([][]any, r.n)
	for i := range rows {
		row := make([]any, len(r.cols))
		for c := range row {
			row[c] = r.value(c, int64(i))
		}
		rows[i] = row
	}
	return &rowsResult{cols: r.cols, rows: rows}
}

// orderKeys resolves ORDER BY keys: an ordinal or a select-list alias names
// a select item; anything else is an expression over the table.
func orderKeys(st *statement, items []*expr, sc *scope, allowAgg bool) ([]orderKey, *sqlError) {
	keys := make([]orderKey, 0, len(st.order))
	sc.allowAgg, sc.clause = allowAgg, "ORDER BY clause"
	for _, k := range st.order {
		e := k.e
		switch {
		case e.kind == "lit" && e.intLit:
			n, _ := toInt64(e.val)
			if n < 1 {
				return nil, analysisError("ORDER BY: ordinal must be >= 1: %d", n)
			}
			if n > int64(len(items)) {
				return nil, analysisError("ORDER BY: ordinal exceeds the number of items in the SELECT list: %d", n)
			}
			k.e = items[n-1]
		case e.kind == "col" && aliasOf(st, e.name) != nil:
			k.e = aliasOf(st, e.name)
		default:
			if err := analyze(e, sc); err != nil {
				return nil, err
			}
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func aliasOf(st *statement, name string) *expr {
	for _, it := range st.items {
		if it.alias == name {
			return it.e
		}
	}
	return nil
}

// aggregateRows runs the aggregates over the rows of src that pass where.
// count(*) of a whole table needs no scan.
func aggregateRows(src *tableSource, where *expr, aggs []*expr) *sqlError {
	countOnly := where == nil
	for _, a := range aggs {
		if len(a.args) != 0 {
			countOnly = false
		}
	}
	if countOnly {
		for _, a := range aggs {
			a.agg.count = src.n
			a.val = a.result(a.agg)
		}
		return nil
	}
	if src.gen && src.n > maxScanRows {
		return tooManyRows("Aggregation", src, maxScanRows)
	}
	ref := &rowRef{src: src}
	get := ref.get
	for i := range src.n {
		ref.i = i
		if where != nil && where.eval(get) != true {
			continue
		}
		for _, a := range aggs {
			a.accumulate(a.agg, get)
		}
	}
	for _, a := range aggs {
		if a.agg.overflow {
			return tooManyDistinct(a)
		}
		a.val = a.result(a.agg)
	}
	return nil
}

func tooManyDistinct(a *expr) *sqlError {
	return unsupported("%s over more than %d distinct values", a.sql(), maxGroups)
}

// filterRows returns the row numbers of src that pass where, stopping at
// limit rows when there is no ORDER BY.
func filterRows(src *tableSource, where *expr, keys []orderKey, limit int64) ([]int64, *sqlError) {
	scan, what := "WHERE", "WHERE without LIMIT"
	if len(keys) > 0 {
		scan, what = "ORDER BY", "ORDER BY"
	}
	// Refuse at once what would be refused after a long scan (under the
	// coordinator's lock): a scan that no LIMIT can stop early over more
	// rows than may be read, or a result known to keep too many.
	if full := len(keys) > 0 || limit < 0; full && src.gen && src.n > maxScanRows {
		return nil, tooManyRows(scan, src, maxScanRows)
	}
	if where == nil && src.n > maxKeptRows {
		return nil, tooManyRows(what, src, maxKeptRows)
	}
	var idx []int64
	ref := &rowRef{src: src}
	get := ref.get
	for i := range src.n {
		if len(keys) == 0 && limit >= 0 && int64(len(idx)) >= limit {
			break
		}
		if src.gen && i >= maxScanRows {
			return nil, tooManyRows(scan, src, maxScanRows)
		}
		ref.i = i
		if where != nil && where.eval(get) != true {
			continue
		}
		if len(idx) >= maxKeptRows {
			return nil, tooManyRows(what, src, maxKeptRows)
		}
		idx = append(idx, i)
	}
	return idx, nil
}

// sortRows sorts the row numbers idx by the keys, stably.
func sortRows(src *tableSource, idx []int64, keys []orderKey) {
	vals := make([][]any, len(keys))
	ref := &rowRef{src: src}
	for k, key := range keys {
		vals[k] = make([]any, len(idx))
		for j, i := range idx {
			ref.i = i
			vals[k][j] = key.e.eval(ref.get)
		}
	}
	perm := sortPerm(vals, keys, len(idx))
	sorted := make([]int64, len(idx))
	for j, p := range perm {
		sorted[j] = idx[p]
	}
	copy(idx, sorted)
}

// sortPerm returns the order of n rows whose key values are vals[key][row],
// stable; NULLs sort last ascending and first descending unless the key
// says otherwise.
func sortPerm(vals [][]any, keys []orderKey, n int) []int {
	classes := make([]cmpClass, len(keys))
	for k, key := range keys {
		classes[k] = classOf(key.e.typ)
	}
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	sort.SliceStable(perm, func(a, b int) bool {
		for k, key := range keys {
			x, y := vals[k][perm[a]], vals[k][perm[b]]
			switch {
			case x == nil && y == nil:
				continue
			case x == nil:
				return key.nullsFirst
			case y == nil:
				return !key.nullsFirst
			}
			c, _ := compareValues(classes[k], x, y)
			if c != 0 {
				return c < 0 != key.desc
			}
		}
		return false
	})
	return perm
}

// exprResult is a SELECT's result whose values are computed when fetched:
// the select items evaluated on the source rows idx (or the first n rows
// when idx is nil). Immutable once built.
type exprResult struct {
	cols  []Column
	items []*expr
	src   *tableSource
	idx   []int64
	n     int64
}

func (r *exprResult) schema() []Column { return r.cols }
func (r *exprResult) numRows() int64   { return r.n }
func (r *exprResult) value(col int, row int64) any {
	if r.idx != nil {
		row = r.idx[row]
	}
	ref := rowRef{src: r.src, i: row}
	return r.items[col].eval(ref.get)
}

// keyString is v as a GROUP BY or DISTINCT key: its text, floating-point
// values in full (FormatValue's 16 digits could make two values one).
func keyString(t Type, v any) string {
	switch x := v.(type) {
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return FormatValue(t, v)
}

// maxGroups is the most groups a GROUP BY may make.
const maxGroups = 1 << 16

// groupByKeys resolves the GROUP BY keys: an ordinal or an alias names a
// select item; anything else is an expression over the table.
func groupByKeys(st *statement, items []*expr, sc *scope) ([]*expr, *sqlError) {
	var keys []*expr
	sc.allowAgg, sc.clause = false, "GROUP BY clause"
	for _, e := range st.groupBy {
		switch {
		case e.kind == "lit" && e.intLit:
			n, _ := toInt64(e.val)
			if n < 1 || n > int64(len(items)) {
				return nil, analysisError("GROUP BY: ordinal exceeds the number of items in the SELECT list: %d", n)
			}
			e = items[n-1]
		case e.kind == "col" && aliasOf(st, e.name) != nil:
			e = aliasOf(st, e.name)
		default:
			if err := analyze(e, sc); err != nil {
				return nil, err
			}
		}
		if containsAgg(e) {
			return nil, analysisError("GROUP BY expression must not contain aggregate functions: %s", e.sql())
		}
		keys = append(keys, e)
	}
	return keys, nil
}

func containsAgg(e *expr) bool {
	if e.kind == "agg" || e.arg != nil && containsAgg(e.arg) {
		return true
	}
	for _, a := range e.args {
		if containsAgg(a) {
			return true
		}
	}
	return false
}

// boundBy reports whether e is computed from the group keys and aggregates
// only: e is a key (the same expression), a constant or an aggregate, or
// made of such.
func boundBy(e *expr, keys []*expr) bool {
	for _, k := range keys {
		if sameExpr(k, e) {
			return true
		}
	}
	switch {
	case e.kind == "agg" || e.isValue():
		return true
	case e.kind == "col":
		return false
	}
	for _, c := range e.children() {
		if !boundBy(c, keys) {
			return false
		}
	}
	return true
}

// sameExpr reports whether a and b are the same expression (as their
// labels would say), comparing the trees rather than rendering them.
func sameExpr(a, b *expr) bool {
	if a == b {
		return true
	}
	if a.kind != b.kind || a.op != b.op || a.name != b.name || a.label != b.label || a.parens != b.parens ||
		a.kind == "cast" && a.typ != b.typ {
		return false
	}
	ac, bc := a.children(), b.children()
	if len(ac) != len(bc) {
		return false
	}
	for i := range ac {
		if !sameExpr(ac[i], bc[i]) {
			return false
		}
	}
	return true
}

// group is one GROUP BY group: a row of it (whose key values are the
// group's) and its aggregates' states.
type group struct {
	rep    int64
	states []aggState
}

// groupRows runs a GROUP BY: groups the rows of src that pass where, in
// the order groups first appear, filters them with having, evaluates the
// items and sorts by the ORDER BY keys.
func groupRows(src *tableSource, where *expr, groupKeys, aggs []*expr, having *expr, items []*expr, order []orderKey, limit int64) (*rowsResult, *sqlError) {
	if src.gen && src.n > maxScanRows {
		return nil, tooManyRows("GROUP BY", src, maxScanRows)
	}
	index := map[string]int{}
	var groups []*group
	ref := &rowRef{src: src}
	get := ref.get
	var kb []byte
	for i := range src.n {
		ref.i = i
		if where != nil && where.eval(get) != true {
			continue
		}
		kb = kb[:0]
		for _, k := range groupKeys {
			v := k.eval(get)
			if v == nil {
				kb = append(kb, 'N')
				continue
			}
			s := keyString(k.typ, v)
			kb = strconv.AppendInt(append(kb, 'V'), int64(len(s)), 10)
			kb = append(append(kb, ':'), s...)
		}
		gi, ok := index[string(kb)]
		if !ok {
			if len(groups) >= maxGroups {
				return nil, unsupported("GROUP BY with more than %d groups", maxGroups)
			}
			gi = len(groups)
			index[string(kb)] = gi
			groups = append(groups, &group{rep: i, states: make([]aggState, len(aggs))})
		}
		g := groups[gi]
		for a, e := range aggs {
			e.accumulate(&g.states[a], get)
		}
	}
	r := &rowsResult{}
	keyVals := make([][]any, len(order))
	for _, g := range groups {
		for a, e := range aggs {
			if g.states[a].overflow {
				return nil, tooManyDistinct(e)
			}
			e.val = e.result(&g.states[a])
		}
		ref.i = g.rep
		if having != nil && having.eval(get) != true {
			continue
		}
		row := make([]any, len(items))
		for i, e := range items {
			row[i] = e.eval(get)
		}
		r.rows = append(r.rows, row)
		for k, key := range order {
			keyVals[k] = append(keyVals[k], key.e.eval(get))
		}
	}
	if len(order) > 0 {
		perm := sortPerm(keyVals, order, len(r.rows))
		sorted := make([][]any, len(r.rows))
		for j, p := range perm {
			sorted[j] = r.rows[p]
		}
		r.rows = sorted
	}
	if limit >= 0 && int64(len(r.rows)) > limit {
		r.rows = r.rows[:limit]
	}
	return r, nil
}

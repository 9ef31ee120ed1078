package impalad

import (
	"errors"
	"sort"
	"sync"
	"time"
)

// Cluster is the catalog shared by the coordinators of one simulated Impala
// cluster (Impala's catalogd and statestore in one). A DDL statement run on
// one coordinator is visible there at once and on the other coordinators
// only after the cluster's DDL delay, as metadata updates reach them through
// the statestore; a statement run with SYNC_DDL=1 returns only after that
// delay. Table data (INSERT) is visible everywhere at once.
//
// A Cluster is safe for concurrent use. Coordinators join it in Start and
// leave it in Close.
type Cluster struct {
	ddlDelay time.Duration
	now      func() time.Time

	mu      sync.Mutex // guards the fields below
	nextID  int
	members map[int]*Coordinator
	dbs     map[string]*dbEntry
}

// visibility says from when an object exists (or stops existing) for each
// coordinator: at once for the coordinator that ran the DDL, after the delay
// for the others.
type visibility struct {
	origin int
	at     time.Time
}

func (v visibility) seenBy(member int, now time.Time, delay time.Duration) bool {
	return v.origin == member || !now.Before(v.at.Add(delay))
}

type dbEntry struct {
	name    string
	created visibility
	dropped *visibility
	tables  map[string]*tableEntry
}

type tableEntry struct {
	db, name string
	cols     []Column
	meta     tableMeta
	created  visibility
	dropped  *visibility

	rowsMu sync.Mutex // guards rows
	rows   [][]any
}

// NewCluster returns an empty catalog (with database "default") whose DDL
// reaches the other coordinators after ddlDelay. Start coordinators on it
// with StartN or by setting Config.Cluster.
func NewCluster(ddlDelay time.Duration) *Cluster {
	c := &Cluster{ddlDelay: ddlDelay, now: time.Now, members: map[int]*Coordinator{}, dbs: map[string]*dbEntry{}}
	c.dbs["default"] = &dbEntry{name: "default", created: visibility{origin: -1}, tables: map[string]*tableEntry{}}
	return c
}

// DDLDelay returns the propagation delay of the cluster's metadata.
func (c *Cluster) DDLDelay() time.Duration { return c.ddlDelay }

// StartN starts n coordinators on this cluster, each with a copy of cfg
// (cfg.Cluster is set to c; addresses left empty get fresh loopback ports).
// On error the coordinators already started are closed.
func (c *Cluster) StartN(n int, cfg Config) ([]*Coordinator, error) {
	var out []*Coordinator
	for range n {
		cc := cfg
		cc.Cluster = c
		co, err := Start(cc)
		if err != nil {
			for _, o := range out {
				_ = o.Close() // err is the one returned
			}
			return nil, err
		}
		out = append(out, co)
	}
	return out, nil
}

func (c *Cluster) join(co *Coordinator) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.nextID
	c.nextID++
	c.members[id] = co
	return id
}

// coordinators returns the members in the order they joined.
func (c *Cluster) coordinators() []*Coordinator {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]int, 0, len(c.members))
	for id := range c.members {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	out := make([]*Coordinator, len(ids))
	for i, id := range ids {
		out[i] = c.members[id]
	}
	return out
}

func (c *Cluster) leave(id int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.members, id)
}

// syncDelay is how long a SYNC_DDL statement waits: the DDL delay when
// another coordinator is in the cluster, nothing otherwise.
func (c *Cluster) syncDelay() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.members) > 1 {
		return c.ddlDelay
	}
	return 0
}

func (c *Cluster) dbVisible(d *dbEntry, member int, now time.Time) bool {
	if !d.created.seenBy(member, now, c.ddlDelay) {
		return false
	}
	return d.dropped == nil || !d.dropped.seenBy(member, now, c.ddlDelay)
}

func (c *Cluster) tableVisible(t *tableEntry, member int, now time.Time) bool {
	if !t.created.seenBy(member, now, c.ddlDelay) {
		return false
	}
	return t.dropped == nil || !t.dropped.seenBy(member, now, c.ddlDelay)
}

var (
	errExists   = errors.New("exists")
	errNotFound = errors.New("not found")
)

func (c *Cluster) createDB(member int, name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if d, ok := c.dbs[name]; ok && (c.dbVisible(d, member, now) || d.dropped == nil) {
		return errExists
	}
	c.dbs[name] = &dbEntry{name: name, created: visibility{member, now}, tables: map[string]*tableEntry{}}
	return nil
}

func (c *Cluster) dropDB(member int, name string, cascade bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	d, ok := c.dbs[name]
	if !ok || !c.dbVisible(d, member, now) || name == "default" {
		if name == "default" {
			// Impala leaves this one to the Hive Metastore, which refuses.
			return errors.New("not supported by the test coordinator: DROP DATABASE default from another database (the Hive Metastore refuses it)")
		}
		return errNotFound
	}
	if !cascade {
		for _, t := range d.tables {
			if c.tableVisible(t, member, now) {
				return errors.New("Cannot drop non-empty database: " + name)
			}
		}
	}
	d.dropped = &visibility{member, now}
	return nil
}

func (c *Cluster) hasDB(member int, name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.dbs[name]
	return ok && c.dbVisible(d, member, c.now())
}

func (c *Cluster) listDBs(member int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	var out []string
	for n, d := range c.dbs {
		if c.dbVisible(d, member, now) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func (c *Cluster) createTable(member int, db, name string, cols []Column, meta tableMeta) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	d, ok := c.dbs[db]
	if !ok || !c.dbVisible(d, member, now) {
		return errNotFound
	}
	if t, ok := d.tables[name]; ok && (c.tableVisible(t, member, now) || t.dropped == nil) {
		return errExists
	}
	d.tables[name] = &tableEntry{db: db, name: name, cols: cols, meta: meta, created: visibility{member, now}}
	return nil
}

func (c *Cluster) dropTable(member int, db, name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	d, ok := c.dbs[db]
	if !ok || !c.dbVisible(d, member, now) {
		return errNotFound
	}
	t, ok := d.tables[name]
	if !ok || !c.tableVisible(t, member, now) {
		return errNotFound
	}
	t.dropped = &visibility{member, now}
	return nil
}

// table returns the table if this member sees it; errNotFound names which
// of database and table is missing through dbMissing.
func (c *Cluster) table(member int, db, name string) (t *tableEntry, dbMissing bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	d, ok := c.dbs[db]
	if !ok || !c.dbVisible(d, member, now) {
		return nil, true
	}
	t, ok = d.tables[name]
	if !ok || !c.tableVisible(t, member, now) {
		return nil, false
	}
	return t, false
}

func (c *Cluster) listTables(member int, db string) ([]string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	d, ok := c.dbs[db]
	if !ok || !c.dbVisible(d, member, now) {
		return nil, false
	}
	var out []string
	for n, t := range d.tables {
		if c.tableVisible(t, member, now) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, true
}

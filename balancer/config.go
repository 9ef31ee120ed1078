package balancer

import (
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/impalalb/impalalb/conn"
)

// Policy chooses a coordinator for a new acquire.
type Policy uint8

const (
	// PolicyUnset is the zero Policy: the field's default applies.
	PolicyUnset Policy = iota
	// LeastConn picks the coordinator with the fewest busy sessions from this
	// pool (in use, being opened, or about to be handed out; idle ones run
	// nothing and do not count), preferring among equals one with an idle
	// session to reuse, so that a coordinator's open sessions (each holds one
	// of its frontend threads) stay near its peak of busy ones; remaining
	// ties are broken at random, with the power of two random choices when
	// the set is large.
	LeastConn
	// Affinity picks by rendezvous hashing of the acquire key over the healthy
	// coordinators, with a bounded load: a coordinator takes at most
	// [Config.LoadFactor] times the mean number of busy sessions, so that one
	// hot key cannot flood it. The client-side equivalent of HAProxy's
	// "balance source".
	Affinity
	// RoundRobin takes the healthy coordinators in turn. Not recommended for
	// Impala: it ignores how long sessions stay open.
	RoundRobin
)

// String returns the policy's name as [ParsePolicy] reads it.
func (p Policy) String() string {
	switch p {
	case PolicyUnset:
		return "unset"
	case LeastConn:
		return "leastconn"
	case Affinity:
		return "affinity"
	case RoundRobin:
		return "roundrobin"
	}
	return fmt.Sprintf("Policy(%d)", uint8(p))
}

// ParsePolicy reads a policy name: "leastconn", "affinity" (or HAProxy's
// "source"), "roundrobin". Case is ignored.
func ParsePolicy(s string) (Policy, error) {
	switch strings.ToLower(s) {
	case "leastconn":
		return LeastConn, nil
	case "affinity", "source":
		return Affinity, nil
	case "roundrobin":
		return RoundRobin, nil
	}
	return PolicyUnset, fmt.Errorf("balancer: unknown policy %q", s)
}

// Default values of zero [Config] fields. The root package's Config and
// DSN use the same ones.
const (
	DefaultLoadFactor            = 1.25
	DefaultMinAffinityLoad       = 8
	DefaultMaxPerCoordinator     = 48
	DefaultMaxIdlePerCoordinator = 8
	DefaultMaxIdleTime           = 30 * time.Minute
	DefaultMaxLifetime           = time.Hour
	DefaultLifetimeJitter        = 0.1
	DefaultValidateAfter         = 30 * time.Second
	DefaultDialTimeout           = conn.DefaultConnectTimeout
	DefaultRetries               = 3
	DefaultInterval              = 2 * time.Second
	DefaultRise                  = 2
	DefaultFall                  = 3
	DefaultSlowStart             = 10 * time.Second
	DefaultBackoffMin            = 500 * time.Millisecond
	DefaultBackoffMax            = 30 * time.Second
	DefaultStickyTableSize       = 100000
	DefaultStickyExpire          = 30 * time.Minute
	DefaultOutlierFailures       = 5
	DefaultOutlierWindow         = time.Minute
	DefaultOutlierEjectTime      = 30 * time.Second
	DefaultOutlierEjectTimeMax   = 5 * time.Minute
	DefaultOutlierMaxEjected     = 0.5
	DefaultDiscoveryInterval     = 10 * time.Second
	DefaultDiscoveryTimeout      = 5 * time.Second
)

// Config configures a [Pool]. The zero value of each field selects its
// default, as documented on the field (negative values turn off what can
// be turned off); [New] keeps a private copy.
type Config struct {
	// Coordinators lists the coordinators as host:port. Required, at least
	// one, unless Discovery is set: then it is the seed list, the members
	// until a discovery source first answers (and where ImpalaMembership
	// first asks), and may be empty.
	Coordinators []string

	// Discovery lists sources of coordinators (DNSDiscovery,
	// ImpalaMembership, any Discoverer), polled in the background: the
	// members are the union of their last good lists (see the package
	// doc). Nil means the members are Coordinators, changed only by
	// SetCoordinators.
	Discovery []Discoverer
	// DiscoveryInterval is the period of each source's poll, jittered by
	// ±20 %. Zero means 10 seconds.
	DiscoveryInterval time.Duration
	// DiscoveryTimeout bounds one poll of a source. Zero means 5 seconds.
	DiscoveryTimeout time.Duration

	// ClusterLoad, when not nil, turns on cluster-wide least connections:
	// leastconn ranks coordinators by this pool's busy sessions plus the
	// other clients' load, read from each coordinator (ImpalaLoad: its
	// queries registered) every ClusterLoadInterval (see the package doc
	// for the formula and why). Nil means local leastconn: this pool's own
	// busy sessions only.
	ClusterLoad LoadReporter
	// ClusterLoadInterval is the period of the load polls, jittered by
	// ±20 %; it also bounds each request, and figures older than three
	// periods are stale. Zero means 1 second.
	ClusterLoadInterval time.Duration

	// Policy serves acquires with an empty key. Zero means LeastConn. With
	// Affinity, the key is DefaultKey.
	Policy Policy
	// KeyedPolicy serves acquires with a non-empty key. Zero means Affinity.
	KeyedPolicy Policy
	// DefaultKey is the affinity key used when Policy is Affinity and the
	// acquire has no key. Empty means this host's name, which makes the pool
	// behave like HAProxy's "balance source".
	DefaultKey string
	// LoadFactor is the bounded-load factor c of Affinity's placement of a
	// new key: a coordinator takes it only while it holds at most c times
	// the mean number of busy sessions and of keys. Zero means 1.25; it
	// must be at least 1.
	LoadFactor float64
	// MinAffinityLoad is the floor of that bound: a key's coordinator takes
	// up to this many busy sessions whatever the mean, so that at light load
	// (a user's second session, a coordinator that also holds a few
	// leastconn sessions) a key stays where its DDL ran. The bound is there
	// to stop one hot key flooding a coordinator, not to move keys off a
	// nearly idle one. Zero means 8; negative means no floor.
	MinAffinityLoad int

	// StickyTableSize bounds the table that keeps each affinity key on the
	// coordinator it was placed on (HAProxy's stick-table "size"): a key
	// moves only when that coordinator is down, draining or removed, or when
	// the key expired or was evicted, least recently used first, from a full
	// table. Zero means 100000 keys (about 15 MB); negative means no table:
	// every acquire is placed anew by rendezvous hashing with the bounded
	// load, and a key moves whenever the loads shift.
	StickyTableSize int
	// StickyExpire forgets a key not used for this long (HAProxy's
	// stick-table "expire"). Zero means 30 minutes; negative means never
	// (the table's size still bounds it).
	StickyExpire time.Duration
	// SpreadKeys places a new affinity key only on a coordinator holding at
	// most LoadFactor times the mean number of this pool's keys, so that a
	// few keys (six users over three coordinators) spread over all of
	// them. False means keys are placed by rendezvous hashing bounded by
	// sessions only, which every client process computes alike: two
	// processes (replicas of a service) send a key to the same coordinator
	// unless their loads differ. Turn it on in a single process with few
	// keys.
	SpreadKeys bool
	// ReturnHome sends a key that moved away from a coordinator that went
	// down back to it, once, when it is up again and its slow start is
	// over. False means the key stays where it moved: the fewer moves, the
	// fewer chances that a key's query lands where its DDL is not yet
	// known.
	ReturnHome bool

	// MaxSessions caps the open sessions (idle and in use) of the pool; an
	// acquire beyond it waits, honouring its context. Zero means no cap.
	MaxSessions int
	// MaxPerCoordinator caps the open sessions (idle and in use) on one
	// coordinator; keep it below the coordinator's fe_service_threads (64 by
	// default), which all clients share. Zero means 48.
	MaxPerCoordinator int
	// MaxIdlePerCoordinator is how many idle sessions are kept per
	// coordinator. Zero means 8; negative keeps none.
	MaxIdlePerCoordinator int
	// MaxIdleTime closes a session idle for longer. Zero means 30 minutes;
	// negative means no limit.
	MaxIdleTime time.Duration
	// MaxLifetime closes a session older than this (minus jitter) when it is
	// idle or released. Zero means one hour; negative means no limit.
	MaxLifetime time.Duration
	// LifetimeJitter spreads MaxLifetime by up to this fraction, so sessions
	// opened together do not all expire together. Zero means 0.1; negative
	// means none; it must be below 1.
	LifetimeJitter float64
	// ValidateAfter is the idle time after which a session is pinged before it
	// is handed out (the socket liveness check is always done). Zero means
	// 30 seconds; negative means never ping.
	ValidateAfter time.Duration

	// DialTimeout bounds one Dial (connect, handshake, OpenSession), one Ping
	// of an idle session, one Reattach and one Reset. Zero means 10 seconds.
	DialTimeout time.Duration
	// Retries is how many times an acquire redispatches to another
	// coordinator after a dial failure, within the caller's deadline. Zero
	// means 3; negative means none.
	Retries int

	// Interval is the period of active health checks of up coordinators.
	// Zero means 2 seconds; negative turns active checks off (down
	// coordinators are still re-probed with backoff).
	Interval time.Duration
	// CheckTimeout bounds one health check. Zero means DialTimeout.
	CheckTimeout time.Duration
	// Rise is how many consecutive successful checks bring a down coordinator
	// back. Zero means 2.
	Rise int
	// Fall is how many consecutive failed active checks take an up
	// coordinator down (a dial failure takes it down at once). Zero means 3.
	// A failure that is the client's own (see [Dialer]) counts for nothing,
	// in checks as in dials.
	Fall int
	// SlowStart is how long a returning coordinator takes to ramp up to its
	// full share of new sessions. Zero means 10 seconds; negative turns slow
	// start off.
	SlowStart time.Duration
	// BackoffMin is the first delay before a down coordinator is re-probed;
	// the delay doubles (with jitter) after each failed probe up to
	// BackoffMax. A draining coordinator (shutting down) is re-probed
	// every BackoffMin, without backing off. Zero means 500 ms.
	BackoffMin time.Duration
	// BackoffMax caps the re-probe delay. Zero means 30 seconds.
	BackoffMax time.Duration

	// OutlierFailures is how many statements in a row that get no answer
	// from one coordinator — their deadline passed, or the connection was
	// lost, reset, or answered with what is not Impala's protocol, as its
	// sessions report them (conn.Observer) — eject it while another
	// coordinator is up and not failing, and while it still passes a
	// health check (one that fails it, a killed coordinator, goes down as
	// a failed check takes it and returns when it answers again): it is
	// taken down, its sessions in use move at their next statement, and
	// it is not probed for OutlierEjectTime; then health checks bring it back through Rise and
	// slow start (Envoy's outlier detection). A statement the coordinator
	// answers, even with an error of its own, resets the count; a caller
	// that gives up (a cancelled context) counts for nothing. Zero means
	// 5; negative turns ejection off.
	OutlierFailures int
	// OutlierWindow is how close together those failures must be: a
	// failure later than this after the first of the run starts a new
	// run. Zero means one minute; negative means no window.
	OutlierWindow time.Duration
	// OutlierEjectTime is how long a coordinator stays out at its first
	// ejection; each ejection that follows doubles it, up to
	// OutlierEjectTimeMax, and one more than OutlierEjectTimeMax after the
	// last starts again from OutlierEjectTime. Zero means 30 seconds.
	OutlierEjectTime time.Duration
	// OutlierEjectTimeMax caps the doubled ejection time. Zero means 5
	// minutes.
	OutlierEjectTimeMax time.Duration
	// OutlierMaxEjected is the largest fraction of the coordinators that
	// may be ejected at once; at least one may be, and never all. Zero
	// means 0.5.
	OutlierMaxEjected float64

	// Tracer, when not nil, is told of the start and end of every
	// Acquire. Nil means no tracing.
	Tracer Tracer

	// Logger receives state changes: coordinator down and up, redispatches.
	// Nil means no logging.
	Logger *slog.Logger
}

// WithDefaults returns a copy of c with every zero field set to its
// default, as the pool sees it.
func (c Config) WithDefaults() Config {
	c.applyDefaults()
	return c
}

func (c *Config) applyDefaults() {
	if c.Policy == PolicyUnset {
		c.Policy = LeastConn
	}
	if c.KeyedPolicy == PolicyUnset {
		c.KeyedPolicy = Affinity
	}
	if c.LoadFactor == 0 {
		c.LoadFactor = DefaultLoadFactor
	}
	if c.MinAffinityLoad == 0 {
		c.MinAffinityLoad = DefaultMinAffinityLoad
	}
	if c.MaxPerCoordinator == 0 {
		c.MaxPerCoordinator = DefaultMaxPerCoordinator
	}
	if c.MaxIdlePerCoordinator == 0 {
		c.MaxIdlePerCoordinator = DefaultMaxIdlePerCoordinator
	}
	if c.MaxIdleTime == 0 {
		c.MaxIdleTime = DefaultMaxIdleTime
	}
	if c.MaxLifetime == 0 {
		c.MaxLifetime = DefaultMaxLifetime
	}
	if c.LifetimeJitter == 0 {
		c.LifetimeJitter = DefaultLifetimeJitter
	}
	if c.ValidateAfter == 0 {
		c.ValidateAfter = DefaultValidateAfter
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.Retries == 0 {
		c.Retries = DefaultRetries
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.CheckTimeout == 0 {
		c.CheckTimeout = c.DialTimeout
	}
	if c.Rise == 0 {
		c.Rise = DefaultRise
	}
	if c.Fall == 0 {
		c.Fall = DefaultFall
	}
	if c.SlowStart == 0 {
		c.SlowStart = DefaultSlowStart
	}
	if c.BackoffMin == 0 {
		c.BackoffMin = DefaultBackoffMin
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = DefaultBackoffMax
	}
	if c.StickyTableSize == 0 {
		c.StickyTableSize = DefaultStickyTableSize
	}
	if c.StickyExpire == 0 {
		c.StickyExpire = DefaultStickyExpire
	}
	if c.OutlierFailures == 0 {
		c.OutlierFailures = DefaultOutlierFailures
	}
	if c.OutlierWindow == 0 {
		c.OutlierWindow = DefaultOutlierWindow
	}
	if c.OutlierEjectTime == 0 {
		c.OutlierEjectTime = DefaultOutlierEjectTime
	}
	if c.OutlierEjectTimeMax == 0 {
		c.OutlierEjectTimeMax = DefaultOutlierEjectTimeMax
	}
	if c.OutlierMaxEjected == 0 {
		c.OutlierMaxEjected = DefaultOutlierMaxEjected
	}
	if c.DiscoveryInterval == 0 {
		c.DiscoveryInterval = DefaultDiscoveryInterval
	}
	if c.DiscoveryTimeout == 0 {
		c.DiscoveryTimeout = DefaultDiscoveryTimeout
	}
	if c.ClusterLoadInterval == 0 {
		c.ClusterLoadInterval = DefaultClusterLoadInterval
	}
}

// Validate reports the first invalid field, as a [*ConfigError] naming it.
// Zero fields are valid: they select their defaults.
func (c Config) Validate() error {
	c.applyDefaults()
	if err := c.validateMembers(); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		p    Policy
	}{{"Policy", c.Policy}, {"KeyedPolicy", c.KeyedPolicy}} {
		if f.p < LeastConn || f.p > RoundRobin {
			return configErr(f.name, "unknown policy %d", uint8(f.p))
		}
	}
	if math.IsNaN(c.LoadFactor) || math.IsInf(c.LoadFactor, 0) || c.LoadFactor < 1 {
		return configErr("LoadFactor", "must be at least 1, got %v", c.LoadFactor)
	}
	if c.MaxSessions < 0 {
		return configErr("MaxSessions", "must not be negative, got %d", c.MaxSessions)
	}
	if c.MaxPerCoordinator < 0 || c.MaxPerCoordinator > math.MaxInt32/2 {
		return configErr("MaxPerCoordinator", "must be between 0 and %d, got %d", math.MaxInt32/2, c.MaxPerCoordinator)
	}
	if c.MaxSessions > math.MaxInt32/2 {
		return configErr("MaxSessions", "must be at most %d, got %d", math.MaxInt32/2, c.MaxSessions)
	}
	if math.IsNaN(c.LifetimeJitter) || c.LifetimeJitter >= 1 {
		return configErr("LifetimeJitter", "must be below 1, got %v", c.LifetimeJitter)
	}
	if c.DialTimeout < 0 {
		return configErr("DialTimeout", "must not be negative, got %v", c.DialTimeout)
	}
	if c.CheckTimeout < 0 {
		return configErr("CheckTimeout", "must not be negative, got %v", c.CheckTimeout)
	}
	if c.Rise < 0 {
		return configErr("Rise", "must not be negative, got %d", c.Rise)
	}
	if c.Fall < 0 {
		return configErr("Fall", "must not be negative, got %d", c.Fall)
	}
	if c.BackoffMin < 0 {
		return configErr("BackoffMin", "must not be negative, got %v", c.BackoffMin)
	}
	if c.BackoffMax < c.BackoffMin {
		return configErr("BackoffMax", "must be at least BackoffMin (%v), got %v", c.BackoffMin, c.BackoffMax)
	}
	if c.OutlierEjectTime < 0 {
		return configErr("OutlierEjectTime", "must not be negative, got %v", c.OutlierEjectTime)
	}
	if c.OutlierEjectTimeMax < c.OutlierEjectTime {
		return configErr("OutlierEjectTimeMax", "must be at least OutlierEjectTime (%v), got %v", c.OutlierEjectTime, c.OutlierEjectTimeMax)
	}
	if math.IsNaN(c.OutlierMaxEjected) || c.OutlierMaxEjected < 0 || c.OutlierMaxEjected > 1 {
		return configErr("OutlierMaxEjected", "must be between 0 and 1, got %v", c.OutlierMaxEjected)
	}
	return nil
}

// validateMembers checks where the coordinators come from (c with its
// defaults applied): Coordinators, each host:port and listed once, the
// Discovery sources and ClusterLoad, and their intervals.
func (c *Config) validateMembers() error {
	if len(c.Coordinators) == 0 && len(c.Discovery) == 0 {
		return configErr("Coordinators", "at least one coordinator is required (or a Discovery source)")
	}
	for i, d := range c.Discovery {
		if d == nil || isNilValue(d) {
			return configErr("Discovery", "source %d is nil", i)
		}
	}
	if c.ClusterLoad != nil && isNilValue(c.ClusterLoad) {
		return configErr("ClusterLoad", "a nil %T", c.ClusterLoad)
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"DiscoveryInterval", c.DiscoveryInterval}, {"DiscoveryTimeout", c.DiscoveryTimeout}, {"ClusterLoadInterval", c.ClusterLoadInterval}} {
		if f.v < 0 {
			return configErr(f.name, "must not be negative, got %v", f.v)
		}
	}
	seen := make(map[string]bool, len(c.Coordinators))
	for _, a := range c.Coordinators {
		if err := checkAddr(a); err != nil {
			return err
		}
		if seen[a] {
			return configErr("Coordinators", "%q listed twice", a)
		}
		seen[a] = true
	}
	return nil
}

func checkAddr(a string) error {
	if a == "" {
		return configErr("Coordinators", "empty address")
	}
	i := strings.LastIndexByte(a, ':')
	if i <= 0 || i == len(a)-1 {
		return configErr("Coordinators", "%q is not host:port", a)
	}
	return nil
}

package impalalb

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/kerberos"
	"github.com/impalalb/impalalb/tlsconf"
)

// Connector is the driver.Connector of a [Config]: it owns one balancer
// pool over the Config's coordinators, and each database/sql connection is
// one session leased from it, on the coordinator the policy picks.
//
// Use it with sql.OpenDB to keep access to [Connector.Stats]:
//
//	c, err := impalalb.NewConnector(cfg)
//	if err != nil { ... }
//	db := sql.OpenDB(c)
//	defer db.Close() // closes the Connector and its pool
//
// The pool caps the sessions per coordinator at
// balancer.DefaultMaxPerCoordinator (48, below impalad's 64 frontend
// threads); a connection asked for beyond the cap waits for one, within
// its ctx. Set sql.DB.SetMaxOpenConns at or below that cap times the
// number of coordinators.
//
// Through sql.Conn.Raw, a connection is a [RawConn]: the address of its
// session's coordinator, the coordinator's version, and the session
// itself for what database/sql has no call for (the metadata calls, a
// statement's profile):
//
//	err := c.Raw(func(dc any) error {
//		addr = dc.(impalalb.RawConn).Coordinator()
//		return nil
//	})
//
// A Connector is safe for concurrent use.
type Connector struct {
	cfg  *Config
	drv  *Driver
	pool *balancer.Pool[*conn.Session]
	// bcfg and opts are what the pool and its dialer were given.
	bcfg balancer.Config
	opts conn.Options
	// validateAfter is the pool's ValidateAfter, default applied: the
	// idleness after which database/sql's reuse of a connection pings.
	validateAfter time.Duration
	krb           *kerberos.Client // nil unless auth=gssapi

	closeOnce sync.Once
	closeErr  error
}

var (
	_ driver.Connector = (*Connector)(nil)
)

// NewConnector validates cfg and returns a Connector with its balancer
// pool. cfg is copied; later changes to it have no effect. With
// auth=gssapi it loads krb5.conf and the keytab or credential cache now
// (no KDC exchange until the first session). Close releases the pool.
func NewConnector(cfg *Config) (*Connector, error) {
	if cfg == nil {
		return nil, errors.New("impalalb: NewConnector: nil Config")
	}
	return newConnector(cfg.Clone(), &Driver{})
}

func newConnector(cfg *Config, drv *Driver) (*Connector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Connector{cfg: cfg, drv: drv}
	bc, hap, err := poolConfig(cfg)
	if err != nil {
		return nil, err
	}
	opts := conn.Options{
		// The pool's dial timeout: the DSN's, else the file's "timeout
		// connect", else the default.
		ConnectTimeout: bc.DialTimeout,
		User:           cfg.User,
		Database:       cfg.Database,
		SessionOptions: cfg.QueryOptions,
		FetchSize:      cfg.FetchSize,
		MaxReplyMemory: cfg.MaxReplyMemory,
		AllowNonImpala: cfg.AllowNonImpala,
		PollQueries:    cfg.PollQueries,
		SyncDDL:        syncDDLMode(cfg.SyncDDL),
		Tracer:         cfg.Tracer,
		Logger:         cfg.Logger,
	}
	switch cfg.Protocol {
	case ProtocolBeeswax:
		opts.Protocol = conn.Beeswax
	case ProtocolHS2HTTP:
		opts.Protocol = conn.HS2HTTP
		opts.HTTPPath = cfg.HTTPPath
		opts.HTTPHeaders = cfg.HTTPHeaders
	}
	if err := c.authenticate(&opts); err != nil {
		return nil, err
	}
	tlsOn, tc, err := tlsClient(cfg, hap)
	if err != nil {
		c.closeKerberos()
		return nil, err
	}
	if tlsOn {
		// tlsconf checks each coordinator's certificate against
		// server_name, or the dialed address's host, and reloads rotated
		// files; its errors name the expected and the presented names.
		opts.TLSHandshake = tc.HandshakeConn
	}

	c.discovery(&bc, tc)
	c.bcfg, c.opts = bc, opts
	c.validateAfter = bc.WithDefaults().ValidateAfter
	pool, err := balancer.NewWithHooks(bc, balancer.NewConnDialer(opts), cfg.Hooks)
	if err != nil {
		c.closeKerberos()
		return nil, fmt.Errorf("impalalb: %w", err)
	}
	c.pool = pool
	return c, nil
}

// tlsClient makes the TLS client of cfg (and of the HAProxy backend's
// TLS settings), when the coordinators or their web servers use TLS; on
// says the coordinators do.
func tlsClient(cfg *Config, hap *balancer.HAProxyBackend) (on bool, tc *tlsconf.Client, err error) {
	on, tlsCfg := tlsConfig(cfg, hap)
	if !on && !cfg.WebTLS {
		return false, nil, nil
	}
	if tc, err = tlsconf.NewClient(tlsCfg); err != nil {
		return false, nil, fmt.Errorf("impalalb: tls: %w", err)
	}
	return on, tc, nil
}

// authenticate sets opts' authentication as c's configuration says: SASL
// over the binary protocols, an Authorization header over hs2-http (Basic
// for plain, Bearer for jwt, SPNEGO for gssapi, whose Kerberos client c
// keeps).
func (c *Connector) authenticate(opts *conn.Options) error {
	cfg := c.cfg
	httpMode := cfg.Protocol == ProtocolHS2HTTP
	switch cfg.Auth {
	case AuthPlain:
		if httpMode {
			opts.HTTPAuth = conn.BasicAuth(cfg.User, cfg.Password)
		} else {
			opts.Mechanism = sasl.PlainFactory(cfg.User, cfg.Password.Reveal())
		}
	case AuthJWT:
		src := cfg.JWTFunc
		switch {
		case cfg.JWTFile != "":
			src = conn.TokenFile(cfg.JWTFile)
		case !cfg.JWT.IsZero():
			src = conn.StaticToken(cfg.JWT)
		}
		opts.HTTPAuth = conn.BearerAuth(src)
	case AuthGSSAPI:
		kc := kerberos.Config{
			Krb5Conf:    cfg.Krb5Conf,
			Principal:   cfg.Principal,
			Keytab:      cfg.Keytab,
			Password:    cfg.Password,
			CCache:      cfg.CCache,
			ServiceName: cfg.ServiceName,
			HostFQDN:    cfg.KerberosHostFQDN,
			Logger:      cfg.Logger,
		}
		if kc.Principal == "" {
			kc.Principal = cfg.User
		}
		krb, err := kerberos.NewClient(kc)
		if err != nil {
			return fmt.Errorf("impalalb: auth=gssapi: %w", err)
		}
		c.krb = krb
		if httpMode {
			// SPNEGO, for the principal of the same rule as SASL's.
			opts.HTTPAuth = krb.NegotiateHeader
		} else {
			opts.Mechanism = krb.MechanismFactory()
		}
	}
	return nil
}

// poolConfig is the pool's configuration of cfg (validated): its
// coordinators and settings, or, with HAProxyConfig, the file's backend
// (returned too) with cfg's own pool settings over it.
func poolConfig(cfg *Config) (balancer.Config, *balancer.HAProxyBackend, error) {
	// Config and balancer.Config share one convention (zero: the
	// default, negative: off) and the same defaults.
	bc := balancer.Config{
		Coordinators:  cfg.Addrs,
		MaxIdleTime:   cfg.MaxIdleTime,
		ValidateAfter: cfg.ValidateAfter,
		Logger:        cfg.Logger,

		OutlierFailures:   cfg.OutlierFailures,
		OutlierWindow:     cfg.OutlierWindow,
		OutlierEjectTime:  cfg.OutlierEjectTime,
		OutlierMaxEjected: cfg.OutlierMaxEjected,
	}
	if cfg.OutlierEjectTime > balancer.DefaultOutlierEjectTimeMax {
		bc.OutlierEjectTimeMax = cfg.OutlierEjectTime // no doubling
	}
	if t, ok := cfg.Tracer.(balancer.Tracer); ok {
		bc.Tracer = t
	}
	var hap *balancer.HAProxyBackend
	if cfg.HAProxyConfig != "" {
		b, err := balancer.LoadHAProxyConfig(cfg.HAProxyConfig, cfg.HAProxyBackend)
		if err != nil {
			return bc, nil, fmt.Errorf("impalalb: haproxy_config: %w", err)
		}
		hap = &b
		b.Apply(&bc)
		if cfg.Logger != nil {
			for _, d := range b.Ignored {
				cfg.Logger.Info("impalalb: haproxy_config: directive not carried over",
					"file", b.File, "line", d.Line, "section", d.Section, "directive", d.Directive, "reason", d.Reason)
			}
		}
	}
	// The DSN's own settings; a zero one leaves the file's (or the
	// default).
	override(&bc.DialTimeout, cfg.ConnectTimeout)
	override(&bc.Retries, cfg.Retries)
	override(&bc.Interval, cfg.HealthInterval)
	override(&bc.SlowStart, cfg.SlowStart)
	switch cfg.Balance {
	case BalanceAffinity:
		bc.Policy = balancer.Affinity
		bc.DefaultKey = cfg.AffinityKey
		bc.StickyTableSize = cfg.StickyTableSize
		bc.StickyExpire = cfg.StickyExpire
		bc.ReturnHome = cfg.ReturnHome
	case BalanceRoundRobin:
		bc.Policy = balancer.RoundRobin
	case BalanceLeastConn:
		bc.Policy = balancer.LeastConn
	default:
		if hap == nil {
			bc.Policy = balancer.LeastConn
		}
	}
	return bc, hap, nil
}

// override sets *dst to v when v is not zero.
func override[T comparable](dst *T, v T) {
	var zero T
	if v != zero {
		*dst = v
	}
}

// tlsConfig says whether sessions use TLS and with what: cfg's settings,
// or, when the HAProxy backend's servers have "ssl", TLS with the file's
// CA, name and client certificate where cfg gives none.
func tlsConfig(cfg *Config, hap *balancer.HAProxyBackend) (bool, tlsconf.Config) {
	tc := tlsconf.Config{
		CAFile:             cfg.CACert,
		ServerName:         cfg.ServerName,
		CertFile:           cfg.ClientCert,
		KeyFile:            cfg.ClientKey,
		InsecureSkipVerify: cfg.TLSInsecureSkipVerify,
		Logger:             cfg.Logger,
	}
	if hap == nil || !hap.TLS {
		return cfg.TLS, tc
	}
	if tc.CAFile == "" {
		tc.CAFile = hap.CAFile
	}
	if tc.ServerName == "" {
		tc.ServerName = hap.ServerName
	}
	if tc.CertFile == "" {
		// "crt" is one PEM file with the certificate and its key.
		tc.CertFile, tc.KeyFile = hap.ClientCertFile, hap.ClientCertFile
	}
	return true, tc
}

// discovery sets bc's discovery sources and load source as cfg says
// (discovery, cluster_load, web_*): DNS over each address, or the
// membership and the load from the coordinators' web servers through one
// ImpalaWeb with tc's TLS and the credentials of web_auth.
func (c *Connector) discovery(bc *balancer.Config, tc *tlsconf.Client) {
	cfg := c.cfg
	bc.DiscoveryInterval = cfg.DiscoveryInterval
	bc.DiscoveryTimeout = cfg.DiscoveryTimeout
	bc.ClusterLoadInterval = cfg.ClusterLoadInterval
	var web *balancer.ImpalaWeb
	if cfg.Discovery == DiscoveryImpala || cfg.ClusterLoad {
		web = &balancer.ImpalaWeb{Port: cfg.WebPort}
		if cfg.WebTLS {
			web.TLSHandshake = tc.HandshakeConn
		}
		switch cfg.webAuth() {
		case WebAuthBasic:
			web.User, web.Password = cfg.User, cfg.Password
		case WebAuthSPNEGO:
			if c.krb != nil {
				krb := c.krb
				web.Negotiate = func(hc *http.Client) balancer.HTTPDoer { return krb.SPNEGO(hc) }
			}
		}
	}
	// hostPort splits an address (validated) with the protocol's port
	// when it has none.
	hostPort := func(i int) (string, int) {
		a, _ := normalizeAddr(cfg.Addrs[i], i+1, cfg.DefaultPort(), false)
		host, port, _ := net.SplitHostPort(a)
		p, _ := strconv.Atoi(port)
		return host, p
	}
	switch cfg.Discovery {
	case DiscoveryDNS:
		for i := range cfg.Addrs {
			host, port := hostPort(i)
			bc.Discovery = append(bc.Discovery, &balancer.DNSDiscovery{Name: host, Port: port, Resolver: cfg.Resolver})
		}
	case DiscoveryImpala:
		_, port := hostPort(0)
		bc.Discovery = []balancer.Discoverer{&balancer.ImpalaMembership{Web: web, Port: port}}
	}
	if cfg.ClusterLoad {
		bc.ClusterLoad = &balancer.ImpalaLoad{Web: web}
	}
}

func (c *Connector) closeKerberos() {
	if c.krb != nil {
		_ = c.krb.Close()
	}
}

// Connect leases a session from the pool: an idle one, validated, or a
// new one on the coordinator the policy picks. It implements
// driver.Connector. A failure here means no statement was sent; it is
// returned as it is (database/sql reports it), never as driver.ErrBadConn.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	lease, err := c.pool.Acquire(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("impalalb: connect: %w", err)
	}
	return &sqlConn{c: c, lease: lease, s: lease.Session(), lastUsed: time.Now()}, nil
}

// Driver returns the [Driver]. It implements driver.Connector.
func (c *Connector) Driver() driver.Driver { return c.drv }

// Config returns a copy of the Connector's configuration.
func (c *Connector) Config() *Config { return c.cfg.Clone() }

// Stats returns the balancer pool's figures: per coordinator its state,
// sessions in use and idle, dials, failures; for the pool, waits and
// redispatches. Sessions held by database/sql connections (idle in
// database/sql's own pool or running a statement) count as in use.
func (c *Connector) Stats() balancer.Stats { return c.pool.Stats() }

// Placement returns the coordinator that the connector's affinity key
// (balance=affinity: AffinityKey, or this host's name) is placed on, and
// false when the key has not been placed yet (or expired), or the balance
// is not affinity. Every connection of the connector opens its session
// there while that coordinator is up.
func (c *Connector) Placement() (string, bool) {
	if c.bcfg.Policy != balancer.Affinity {
		return "", false
	}
	return c.pool.Placement(c.pool.DefaultKey())
}

// Close closes the pool (idle sessions now; sessions still held by
// connections when those close) and, with auth=gssapi, stops the ticket
// renewal. database/sql calls it from DB.Close. It is idempotent.
func (c *Connector) Close() error {
	c.closeOnce.Do(func() {
		c.closeErr = c.pool.Close()
		c.closeKerberos()
	})
	return c.closeErr
}

// String describes the connector by its configuration, the password
// redacted. A Connector's pool changes under its own goroutines: printing
// it through fmt's reflection would read it without its locks.
func (c *Connector) String() string { return "impalalb.Connector{" + c.cfg.String() + "}" }

// Format prints String whatever the verb (fmt.Formatter).
func (c *Connector) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// LogValue implements slog.LogValuer with String.
func (c *Connector) LogValue() slog.Value { return slog.StringValue(c.String()) }

// syncDDLMode is conn's mode for a Config.SyncDDL (validated).
func syncDDLMode(m SyncDDL) conn.SyncDDL {
	switch m {
	case SyncDDLAlways:
		return conn.SyncDDLAlways
	case SyncDDLNever:
		return conn.SyncDDLNever
	}
	return conn.SyncDDLAuto
}

package kerberos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
	"golang.org/x/sync/singleflight"

	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/internal/gss"
)

// ticket is a ticket with its session key and times. It is immutable once
// published.
type ticket struct {
	start     time.Time
	end       time.Time
	renewTill time.Time
	// sec is the ticket and its session key, sealed: never printed.
	sec sealed[ticketSecrets]
}

// ticketSecrets is what a ticket keeps sealed.
type ticketSecrets struct {
	tkt messages.Ticket
	key types.EncryptionKey
	// svc is set on service tickets only: the ticket prepared for
	// handshakes.
	svc *gss.ServiceTicket
}

func newTicket(tkt messages.Ticket, key types.EncryptionKey, start, end, renewTill time.Time) *ticket {
	return &ticket{start: start, end: end, renewTill: renewTill, sec: seal(ticketSecrets{tkt: tkt, key: key})}
}

// newServiceTicket prepares a service ticket for repeated handshakes.
func newServiceTicket(tkt messages.Ticket, key types.EncryptionKey, start, end, renewTill time.Time) (*ticket, error) {
	svc, err := gss.NewServiceTicket(tkt, key)
	if err != nil {
		return nil, err
	}
	return &ticket{start: start, end: end, renewTill: renewTill, sec: seal(ticketSecrets{tkt: tkt, key: key, svc: svc})}, nil
}

// Stats is a snapshot of a Client's counters.
type Stats struct {
	// Logins counts TGTs obtained by logging in (password, keytab) or by
	// reading the credential cache.
	Logins int64
	// Renewals counts TGT renewals at the KDC.
	Renewals int64
	// TicketsFetched counts service tickets obtained from the KDC.
	TicketsFetched int64
	// TicketCacheHits counts service tickets served from the cache.
	TicketCacheHits int64
}

// Client holds a Kerberos login: a TGT, renewed before it expires, and the
// service tickets obtained with it, cached per service principal. It is
// safe for concurrent use. Close stops its renewal goroutine.
type Client struct {
	cfg    Config
	method loginMethod
	krb    *config.Config
	gk     *client.Client // AS and TGS exchanges; its own sessions are unused
	cname  types.PrincipalName
	crealm string
	log    *slog.Logger
	now    func() time.Time

	sf singleflight.Group // one KDC exchange per key at a time

	mu      sync.Mutex // guards tgt, tickets, stats, closed
	tgt     *ticket
	tickets map[string]*ticket // by service principal with realm
	stats   Stats
	closed  bool

	kick chan struct{} // size 1: a new TGT arrived, recompute the renewal time
	stop chan struct{} // closed by Close
	wg   sync.WaitGroup
}

// NewClient checks cfg, loads krb5.conf and the keytab or credential cache,
// and returns a Client. It does not contact the KDC: the first handshake (or
// Login) does.
func NewClient(cfg Config) (*Client, error) {
	method, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	krb, err := config.Load(cfg.Krb5Conf)
	if err != nil {
		return nil, fmt.Errorf("kerberos: loading krb5.conf %s: %w", cfg.Krb5Conf, err)
	}
	c := &Client{
		cfg:     cfg,
		method:  method,
		krb:     krb,
		log:     cfg.Logger,
		now:     time.Now,
		tickets: make(map[string]*ticket),
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	name, realm := splitPrincipal(cfg.Principal)
	if realm == "" {
		realm = krb.LibDefaults.DefaultRealm
	}
	switch method {
	case loginKeytab:
		kt, err := keytab.Load(cfg.Keytab)
		if err != nil {
			return nil, fmt.Errorf("kerberos: loading keytab %s: %w", cfg.Keytab, err)
		}
		c.gk = client.NewWithKeytab(name, realm, kt, krb, client.DisablePAFXFAST(true))
	case loginPassword:
		c.gk = client.NewWithPassword(name, realm, cfg.Password.Reveal(), krb, client.DisablePAFXFAST(true))
	case loginCCache:
		cc, err := credentials.LoadCCache(cfg.CCache)
		if err != nil {
			return nil, newError("login", cfg.Principal, ErrExpired,
				fmt.Errorf("reading credential cache %s (run kinit): %w", cfg.CCache, err))
		}
		ccName := cc.DefaultPrincipal.PrincipalName.PrincipalNameString() + "@" + cc.DefaultPrincipal.Realm
		if cfg.Principal != "" && cfg.Principal != ccName && cfg.Principal != cc.DefaultPrincipal.PrincipalName.PrincipalNameString() {
			return nil, fmt.Errorf("kerberos: credential cache %s is for %s, not %s", cfg.CCache, ccName, cfg.Principal)
		}
		name, realm = cc.DefaultPrincipal.PrincipalName.PrincipalNameString(), cc.DefaultPrincipal.Realm
		c.gk = client.NewWithPassword(name, realm, "", krb, client.DisablePAFXFAST(true))
	}
	if realm == "" {
		return nil, fmt.Errorf("kerberos: no realm for principal %q: give name@REALM or set default_realm in %s", cfg.Principal, cfg.Krb5Conf)
	}
	c.cname = types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, name)
	c.crealm = realm
	if !cfg.NoBackgroundRenewal {
		c.wg.Add(1)
		go c.renewLoop()
	}
	return c, nil
}

// Principal is the client principal, name@REALM.
func (c *Client) Principal() string {
	return c.cname.PrincipalNameString() + "@" + c.crealm
}

// Config returns a copy of the client's configuration (with defaults).
func (c *Client) Config() Config { return c.cfg }

// Stats returns a snapshot of the counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// ServicePrincipal is the principal a handshake with host asks for:
// ServiceName/HostFQDN@REALM when HostFQDN is set, else
// ServiceName/host@REALM, host lower-cased.
func (c *Client) ServicePrincipal(host string) string {
	name, realm := c.servicePrincipal(c.cfg.ServiceName, host)
	return name.PrincipalNameString() + "@" + realm
}

// servicePrincipal is service/<HostFQDN or host>@REALM: the rule of every
// principal the Client asks tickets for (ServiceName for HiveServer2, SASL
// or HTTP; HTTPServiceName for web servers).
func (c *Client) servicePrincipal(service, host string) (types.PrincipalName, string) {
	h := c.cfg.HostFQDN
	if h == "" {
		h = host
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	realm := c.cfg.Realm
	if realm == "" {
		realm = c.krb.ResolveRealm(h)
	}
	if realm == "" {
		realm = c.crealm
	}
	return types.PrincipalName{NameType: nametype.KRB_NT_SRV_HST, NameString: []string{service, h}}, realm
}

// Login obtains a TGT now, if the client has none that is still fresh.
func (c *Client) Login(ctx context.Context) error {
	_, err := c.getTGT(ctx)
	return err
}

// Close stops the renewal goroutine, waits for KDC exchanges in flight
// (gokrb5 bounds each by its own timeouts, 5 s per KDC address) and forgets
// all tickets. It is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.tgt = nil
	c.tickets = map[string]*ticket{}
	c.mu.Unlock()
	close(c.stop)
	c.wg.Wait()
	c.gk.Destroy()
	return nil
}

// margin is how long before its end a ticket is replaced.
func (c *Client) margin(t *ticket) time.Duration {
	if c.cfg.RenewBefore > 0 {
		return c.cfg.RenewBefore
	}
	return t.end.Sub(t.start) / 5
}

// fresh: t is not yet due for replacement.
func (c *Client) fresh(t *ticket) bool {
	return t != nil && c.now().Before(t.end.Add(-c.margin(t)))
}

// usable: t is due for replacement but may still serve when no better
// ticket can be had (a credential cache that is not renewable, a KDC that
// is down): it has more than a fifth of the margin left.
func (c *Client) usable(t *ticket) bool {
	return t != nil && c.now().Before(t.end.Add(-c.margin(t)/5))
}

// do runs fn once per key at a time, in its own goroutine so that the
// caller's ctx ends the wait (gokrb5's KDC calls take no context; they time
// out on their own after a few seconds). Close waits for fn.
func (c *Client) do(ctx context.Context, key string, fn func() (*ticket, error)) (*ticket, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	c.wg.Add(1)
	c.mu.Unlock()
	ch := c.sf.DoChan(key, func() (any, error) {
		return fn()
	})
	select {
	case r := <-ch:
		c.wg.Done()
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*ticket), nil
	case <-ctx.Done():
		// The exchange goes on and fills the cache; wg stays held until it
		// ends so that Close waits for it.
		go func() {
			<-ch
			c.wg.Done()
		}()
		return nil, ctx.Err()
	}
}

// getTGT returns a fresh TGT, renewing or logging in again when needed; a
// usable old one when no fresh one can be had.
func (c *Client) getTGT(ctx context.Context) (*ticket, error) {
	c.mu.Lock()
	t, closed := c.tgt, c.closed
	c.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if c.fresh(t) {
		return t, nil
	}
	nt, err := c.do(ctx, "tgt", func() (*ticket, error) { return c.refreshTGT(t) })
	if err != nil {
		if c.usable(t) && !errors.Is(err, ErrClosed) {
			c.log.Warn("kerberos: TGT refresh failed, using the current one", "principal", c.Principal(), "end", t.end, "error", err)
			return t, nil
		}
		return nil, err
	}
	if !c.usable(nt) {
		hint := ""
		if c.method == loginCCache {
			hint = " (run kinit)"
		}
		return nil, newError("login", c.Principal(), ErrExpired,
			fmt.Errorf("the newest TGT ends at %s%s", nt.end.UTC().Format(time.RFC3339), hint))
	}
	return nt, nil
}

// refreshTGT replaces old (maybe nil): by renewal when it is renewable and
// still valid, else by a new login.
func (c *Client) refreshTGT(old *ticket) (*ticket, error) {
	c.mu.Lock()
	if cur := c.tgt; cur != old && c.fresh(cur) {
		c.mu.Unlock()
		return cur, nil
	}
	c.mu.Unlock()
	now := c.now()
	if old != nil && now.Before(old.end) && now.Before(old.renewTill) {
		t, err := c.renewTGT(old)
		if err == nil {
			return t, nil
		}
		c.log.Warn("kerberos: TGT renewal failed", "principal", c.Principal(), "error", err)
		if errors.Is(err, ErrKDCUnreachable) && c.method != loginCCache {
			// A new login needs the KDC too.
			return nil, err
		}
	}
	return c.login()
}

func (c *Client) krbtgt(realm string) types.PrincipalName {
	return types.PrincipalName{NameType: nametype.KRB_NT_SRV_INST, NameString: []string{"krbtgt", realm}}
}

func (c *Client) renewTGT(old *ticket) (*ticket, error) {
	_, rep, err := c.gk.TGSREQGenerateAndExchange(c.krbtgt(c.crealm), c.crealm, old.sec.get().tkt, old.sec.get().key, true)
	if err != nil {
		return nil, newError("renew", c.Principal(), nil, err)
	}
	p := rep.DecryptedEncPart
	t := newTicket(rep.Ticket, p.Key, startTime(p.StartTime, p.AuthTime), p.EndTime, p.RenewTill)
	c.setTGT(t, true)
	c.log.Debug("kerberos: TGT renewed", "principal", c.Principal(), "end", t.end)
	return t, nil
}

func startTime(start, auth time.Time) time.Time {
	if start.IsZero() {
		return auth
	}
	return start
}

func (c *Client) login() (*ticket, error) {
	var t *ticket
	if c.method == loginCCache {
		cc, err := credentials.LoadCCache(c.cfg.CCache)
		if err != nil {
			return nil, newError("login", c.Principal(), ErrExpired,
				fmt.Errorf("reading credential cache %s (run kinit): %w", c.cfg.CCache, err))
		}
		cred, ok := cc.GetEntry(c.krbtgt(c.crealm))
		if !ok {
			return nil, newError("login", c.Principal(), ErrExpired,
				fmt.Errorf("credential cache %s holds no TGT (run kinit)", c.cfg.CCache))
		}
		if !c.now().Before(cred.EndTime) {
			return nil, newError("login", c.Principal(), ErrExpired,
				fmt.Errorf("the TGT in credential cache %s expired at %s (run kinit)", c.cfg.CCache, cred.EndTime.UTC().Format(time.RFC3339)))
		}
		var tkt messages.Ticket
		if err := tkt.Unmarshal(cred.Ticket); err != nil {
			return nil, newError("login", c.Principal(), ErrProtocol, fmt.Errorf("TGT in credential cache %s: %w", c.cfg.CCache, err))
		}
		t = newTicket(tkt, cred.Key, startTime(cred.StartTime, cred.AuthTime), cred.EndTime, cred.RenewTill)
		// Service tickets already in the cache are as good as ours.
		c.mu.Lock()
		for _, e := range cc.GetEntries() {
			if len(e.Server.PrincipalName.NameString) == 0 || e.Server.PrincipalName.NameString[0] == "krbtgt" {
				continue
			}
			var st messages.Ticket
			if st.Unmarshal(e.Ticket) != nil {
				continue
			}
			spn := e.Server.PrincipalName.PrincipalNameString() + "@" + e.Server.Realm
			if _, ok := c.tickets[spn]; !ok {
				if nt, err := newServiceTicket(st, e.Key, startTime(e.StartTime, e.AuthTime), e.EndTime, e.RenewTill); err == nil {
					c.tickets[spn] = nt
				}
			}
		}
		c.mu.Unlock()
	} else {
		req, err := messages.NewASReqForTGT(c.crealm, c.krb, c.cname)
		if err != nil {
			return nil, newError("login", c.Principal(), nil, err)
		}
		rep, err := c.gk.ASExchange(c.crealm, req, 0)
		if err != nil {
			return nil, newError("login", c.Principal(), nil, err)
		}
		p := rep.DecryptedEncPart
		t = newTicket(rep.Ticket, p.Key, startTime(p.StartTime, p.AuthTime), p.EndTime, p.RenewTill)
	}
	c.setTGT(t, false)
	c.log.Debug("kerberos: logged in", "principal", c.Principal(), "end", t.end)
	return t, nil
}

func (c *Client) setTGT(t *ticket, renewed bool) {
	c.mu.Lock()
	if !c.closed {
		c.tgt = t
	}
	if renewed {
		c.stats.Renewals++
	} else {
		c.stats.Logins++
	}
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// serviceTicket returns a fresh ticket for the service principal, from the
// cache or from the KDC.
func (c *Client) serviceTicket(ctx context.Context, sname types.PrincipalName, realm string) (*ticket, error) {
	spn := sname.PrincipalNameString() + "@" + realm
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	t := c.tickets[spn]
	if c.fresh(t) {
		c.stats.TicketCacheHits++
		c.mu.Unlock()
		return t, nil
	}
	c.mu.Unlock()
	nt, err := c.do(ctx, "svc:"+spn, func() (*ticket, error) {
		c.mu.Lock()
		if cur := c.tickets[spn]; c.fresh(cur) {
			c.mu.Unlock()
			return cur, nil
		}
		c.mu.Unlock()
		return c.fetchServiceTicket(sname, realm, spn)
	})
	if err != nil {
		if c.usable(t) && !errors.Is(err, ErrClosed) {
			c.log.Warn("kerberos: service ticket refresh failed, using the current one", "principal", spn, "end", t.end, "error", err)
			return t, nil
		}
		return nil, err
	}
	return nt, nil
}

// fetchServiceTicket asks the KDC for a ticket for sname of realm (spn
// names both), with a fresh TGT, through a TGT of realm first when realm
// is not the client's; the ticket goes into the cache unless c is closed.
func (c *Client) fetchServiceTicket(sname types.PrincipalName, realm, spn string) (*ticket, error) {
	tgt, err := c.getTGT(context.Background())
	if err != nil {
		return nil, err
	}
	kdcRealm, tgtTkt, tgtKey := c.crealm, tgt.sec.get().tkt, tgt.sec.get().key
	if realm != c.crealm {
		// Cross-realm: first a TGT of the service's realm from ours.
		_, rep, err := c.gk.TGSREQGenerateAndExchange(c.krbtgt(realm), c.crealm, tgt.sec.get().tkt, tgt.sec.get().key, false)
		if err != nil {
			return nil, newError("service ticket", "krbtgt/"+realm+"@"+c.crealm, nil, err)
		}
		kdcRealm, tgtTkt, tgtKey = realm, rep.Ticket, rep.DecryptedEncPart.Key
	}
	_, rep, err := c.gk.TGSREQGenerateAndExchange(sname, kdcRealm, tgtTkt, tgtKey, false)
	if err != nil {
		return nil, newError("service ticket", spn, nil, err)
	}
	p := rep.DecryptedEncPart
	nt, err := newServiceTicket(rep.Ticket, p.Key, startTime(p.StartTime, p.AuthTime), p.EndTime, p.RenewTill)
	if err != nil {
		return nil, newError("service ticket", spn, ErrProtocol, err)
	}
	c.mu.Lock()
	if !c.closed {
		c.tickets[spn] = nt
	}
	c.stats.TicketsFetched++
	c.mu.Unlock()
	c.log.Debug("kerberos: service ticket", "principal", spn, "end", nt.end)
	return nt, nil
}

// renewLoop renews the TGT a margin before it ends. One per Client; it ends
// when Close closes stop. When a refresh fails or brings no fresh TGT (a
// credential cache nobody renews), it retries after a back-off.
func (c *Client) renewLoop() {
	defer c.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var tried *ticket // the TGT last refreshed without getting a fresh one
	for {
		c.mu.Lock()
		t := c.tgt
		c.mu.Unlock()
		wait := time.Hour
		if t != nil {
			wait = t.end.Add(-c.margin(t)).Sub(c.now())
			if t == tried {
				wait = min(max(t.end.Sub(t.start)/10, time.Second), time.Minute)
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(max(wait, 0))
		select {
		case <-c.stop:
			return
		case <-c.kick:
			continue
		case <-timer.C:
		}
		if t == nil || !c.now().Before(t.end) {
			// Nothing to renew: the next handshake logs in.
			tried = t
			continue
		}
		nt, err := c.do(context.Background(), "tgt", func() (*ticket, error) { return c.refreshTGT(t) })
		switch {
		case errors.Is(err, ErrClosed):
			return
		case err != nil:
			c.log.Error("kerberos: background TGT renewal failed", "principal", c.Principal(), "error", err)
			tried = t
		case !c.fresh(nt):
			tried = nt
		}
		// A successful refresh kicked; drain it so that the new TGT is
		// looked at once.
		select {
		case <-c.kick:
		default:
		}
	}
}

// ForgetServiceTickets drops the cached service tickets (not the TGT), for
// example after the services' keys were changed: the next handshakes ask
// the KDC for new tickets.
func (c *Client) ForgetServiceTickets() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.tickets)
}

// Mechanism returns a new SASL GSSAPI mechanism for one handshake.
func (c *Client) Mechanism() *Mechanism {
	return &Mechanism{c: c}
}

// MechanismFactory returns a factory of SASL GSSAPI mechanisms for package
// conn.
func (c *Client) MechanismFactory() sasl.MechanismFactory {
	return func() (sasl.Mechanism, error) {
		c.mu.Lock()
		closed := c.closed
		c.mu.Unlock()
		if closed {
			return nil, ErrClosed
		}
		return c.Mechanism(), nil
	}
}

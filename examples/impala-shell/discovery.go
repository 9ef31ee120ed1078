package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/kerberos"
	"github.com/impalalb/impalalb/secret"
	"github.com/impalalb/impalalb/tlsconf"
)

// The shell's discovery flags are the DSN's parameters of the same names
// (discovery, discovery_interval, cluster_load, cluster_load_interval,
// web_port, web_tls, web_auth; README's DSN table), with the same rules,
// plus --dns_server, the DSN's Config.Resolver for a command line.

// checkDiscovery checks the discovery flags against each other and
// against the authentication flags.
func (o *options) checkDiscovery() error {
	needs := func(flag, what string) error { return &usageError{flag + " needs " + what} }
	switch {
	case o.discoveryInterval != 0 && o.discovery == "":
		return needs("--discovery_interval", "--discovery")
	case o.dnsServer != "" && o.discovery != "dns":
		return needs("--dns_server", "--discovery dns")
	case o.clusterLoadInterval != 0 && !o.clusterLoad:
		return needs("--cluster_load_interval", "--cluster_load")
	case o.discovery != "" && o.impalad == "" && o.haproxyConfig == "":
		return needs("--discovery", "the seed coordinators of -i (or --haproxy_config)")
	case o.clusterLoad && o.impalad == "" && o.haproxyConfig == "":
		return needs("--cluster_load", "the coordinators of -i (or --haproxy_config)")
	}
	if o.dnsServer != "" {
		if _, _, err := net.SplitHostPort(o.dnsServer); err != nil {
			return &usageError{fmt.Sprintf("--dns_server: %q is not host:port", o.dnsServer)}
		}
	}
	usesWeb := o.discovery == "impala" || o.clusterLoad
	for _, f := range []struct {
		name  string
		given bool
	}{{"--web_port", o.webPort != balancer.DefaultWebPort}, {"--web_tls", o.webTLS}, {"--web_auth", o.webAuth != ""}} {
		if f.given && !usesWeb {
			return needs(f.name, "--discovery impala or --cluster_load")
		}
	}
	if o.webPort < 1 || o.webPort > 65535 {
		return &usageError{fmt.Sprintf("--web_port: %d is not a port from 1 to 65535", o.webPort)}
	}
	switch o.webAuth {
	case "basic":
		if !o.ldap {
			return needs("--web_auth basic", "-l (its user and password are sent)")
		}
		if !o.webTLS {
			return needs("--web_auth basic", "--web_tls: it sends the LDAP password")
		}
	case "spnego":
		if !o.kerberos {
			return needs("--web_auth spnego", "-k")
		}
	}
	return nil
}

// webAuthOf is --web_auth, or what the shell's own authentication implies
// when it is not given, as the DSN's web_auth: the LDAP user and password
// with -l (which ImpalaWeb sends over HTTPS only: a web server asking for
// them over plain HTTP is an error that says so), SPNEGO with -k, nothing
// otherwise.
func (o *options) webAuthOf() string {
	switch {
	case o.webAuth != "":
		return o.webAuth
	case o.ldap:
		return "basic"
	case o.kerberos:
		return "spnego"
	}
	return "none"
}

// setDiscovery adds to cfg the discovery sources and the load source the
// flags ask for, as the DSN's parameters do: DNS over each seed's host
// name, or the membership and the load from the coordinators' web
// servers through one ImpalaWeb, with tc (nil without TLS) for --web_tls,
// kc (nil without -k) for SPNEGO and the LDAP password for Basic.
func setDiscovery(o *options, cfg *balancer.Config, tc *tlsconf.Client, kc *kerberos.Client, password secret.Value) error {
	cfg.DiscoveryInterval = o.discoveryInterval
	cfg.ClusterLoadInterval = o.clusterLoadInterval
	var web *balancer.ImpalaWeb
	if o.discovery == "impala" || o.clusterLoad {
		web = &balancer.ImpalaWeb{Port: o.webPort}
		if o.webTLS {
			web.TLSHandshake = tc.HandshakeConn
		}
		switch o.webAuthOf() {
		case "basic":
			web.User, web.Password = o.user, password
		case "spnego":
			web.Negotiate = func(hc *http.Client) balancer.HTTPDoer { return kc.SPNEGO(hc) }
		}
	}
	switch o.discovery {
	case "dns":
		var r *net.Resolver
		if o.dnsServer != "" {
			server := o.dnsServer
			r = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, server)
			}}
		}
		for _, a := range cfg.Coordinators {
			host, port, err := splitPort(a)
			if err != nil {
				return err
			}
			cfg.Discovery = append(cfg.Discovery, &balancer.DNSDiscovery{Name: host, Port: port, Resolver: r})
		}
	case "impala":
		// Impala's /backends has no HS2 port: every coordinator is taken
		// on the first seed's.
		_, port, err := splitPort(cfg.Coordinators[0])
		if err != nil {
			return err
		}
		cfg.Discovery = []balancer.Discoverer{&balancer.ImpalaMembership{Web: web, Port: port}}
	}
	if o.clusterLoad {
		cfg.ClusterLoad = &balancer.ImpalaLoad{Web: web}
	}
	return nil
}

// splitPort splits a coordinator's host:port.
func splitPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("--discovery: %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("--discovery: %q has no numeric port", addr)
	}
	return host, port, nil
}

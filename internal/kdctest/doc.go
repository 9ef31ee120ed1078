// Package kdctest runs a throwaway MIT Kerberos KDC for tests.
//
// [Start] creates a realm in a temporary directory, starts krb5kdc on a
// free loopback port, adds a user principal with a password, the load
// balancer's service principal and one service principal per coordinator
// host, exports keytabs and writes a krb5.conf that maps every test host to
// the realm without any DNS. Everything is stopped and removed in t.Cleanup.
//
// Debian packages: krb5-kdc and krb5-admin-server (kdb5_util, kadmin.local,
// krb5kdc) and krb5-user (kinit). When a binary is missing the test fails
// with a message naming the package to install.
//
// Typical use, with a coordinator per host and the balancer's name as
// kerberos_host_fqdn:
//
//	k := kdctest.Start(t, kdctest.Options{Hosts: []string{"coord1.impalalb.test", "coord2.impalalb.test"}})
//	// client: kerberos.Config{Krb5Conf: k.Krb5Conf, Principal: k.UserPrincipal(), Password: k.Password, HostFQDN: k.LBHost}
//	// coordinator 1: krbacceptor.Config{KeytabPath: k.Keytab("coord1.impalalb.test")}
//	k.Stop(t)    // "KDC down"
//	k.Restart(t) // same address again
//
// Options.TicketLifetime makes tickets short-lived for renewal tests;
// Options.RenewLifetime makes them renewable.
package kdctest

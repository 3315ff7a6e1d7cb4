package dnsq_test

import (
	"context"
	"net"
	"testing"
	"time"

	"cutover/ingest/dnsq"
	"cutover/ingest/dnsq/dnstest"
)

const soa = "test. 3600 IN SOA ns1.test. hostmaster.test. 1 3600 600 86400 60\n"

// lab serves zone text for "test." and returns a client that starts its
// delegation walk at that server (it is authoritative for test., so every
// answer comes straight from it, with RD=0).
func lab(t *testing.T, zone string) (*dnstest.Server, *dnsq.Client) {
	t.Helper()
	s := dnstest.Start(t, soa+zone)
	return s, &dnsq.Client{Roots: []string{s.Addr}, Timeout: 300 * time.Millisecond, Retries: 1}
}

// goResolver is a net.Resolver sending every query to addr, for the
// independent SPF implementation (blitiri.com.ar/go/spf).
func goResolver(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

func assertRD0(t *testing.T, s *dnstest.Server) {
	t.Helper()
	qs := s.Queries()
	if len(qs) == 0 {
		t.Fatal("the server saw no query")
	}
	for _, q := range qs {
		if q.RD {
			t.Fatalf("query %s type %d had RD=1; authoritative queries must not ask for recursion", q.Name, q.Type)
		}
	}
}

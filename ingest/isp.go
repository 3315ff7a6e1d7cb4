package ingest

import (
	"context"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"cutover/model"
)

// ISPCache is the persistent cache of MX-based classifications (state.DB).
type ISPCache interface {
	ISPCacheGet(domain string) (isp string, ok bool)
	ISPCachePut(domain, isp string, ttl time.Duration) error
}

// MXLookup returns the MX host names of a domain.
type MXLookup func(ctx context.Context, domain string) ([]string, error)

// Classifier maps recipient domains to mailbox providers: the exact-domain
// table first, then (when a resolver is set) the MX hosts of the domain
// against the MX-suffix rules, cached in memory and in bbolt.
type Classifier struct {
	Table   *model.ISPTable
	Lookup  MXLookup // nil: no DNS, unknown domains are "other"
	Cache   ISPCache // may be nil
	TTL     time.Duration
	Timeout time.Duration

	mu  sync.Mutex
	mem map[string]string
}

// NewClassifier returns a classifier on table without DNS.
func NewClassifier(table *model.ISPTable) *Classifier {
	if table == nil {
		table = model.DefaultISPTable()
	}
	return &Classifier{Table: table, TTL: 7 * 24 * time.Hour, Timeout: 3 * time.Second, mem: map[string]string{}}
}

// DNSLookup is an MXLookup over the system resolver.
func DNSLookup(ctx context.Context, domain string) ([]string, error) {
	mxs, err := net.DefaultResolver.LookupMX(ctx, domain)
	if err != nil {
		return nil, err
	}
	hosts := make([]string, 0, len(mxs))
	for _, mx := range mxs {
		hosts = append(hosts, strings.TrimSuffix(mx.Host, "."))
	}
	sort.Strings(hosts)
	return hosts, nil
}

// ISP returns the provider of a lower-case domain.
func (c *Classifier) ISP(domain string) string {
	if isp, ok := c.Table.ByDomain(domain); ok {
		return isp
	}
	if domain == "" || c.Lookup == nil {
		return model.ISPOther
	}
	c.mu.Lock()
	isp, ok := c.mem[domain]
	c.mu.Unlock()
	if ok {
		return isp
	}
	if c.Cache != nil {
		if isp, ok := c.Cache.ISPCacheGet(domain); ok {
			c.remember(domain, isp)
			return isp
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
	hosts, err := c.Lookup(ctx, domain)
	cancel()
	isp = model.ISPOther
	if err == nil {
		if p, ok := c.Table.ByMXSet(hosts); ok {
			isp = p
		}
	}
	c.remember(domain, isp)
	// A failed lookup is remembered in memory only, so a resolver outage does
	// not pin the domain to "other" for a week.
	if err == nil && c.Cache != nil {
		_ = c.Cache.ISPCachePut(domain, isp, c.TTL)
	}
	return isp
}

func (c *Classifier) remember(domain, isp string) {
	c.mu.Lock()
	if len(c.mem) > 100000 {
		c.mem = map[string]string{}
	}
	c.mem[domain] = isp
	c.mu.Unlock()
}

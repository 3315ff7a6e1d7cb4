// Package dnsq is cutover's DNS client (github.com/miekg/dns). By default it
// finds a name's authoritative servers through the parent delegation, starting
// at the root, and asks them directly with recursion off (RD=0), so no
// resolver cache is touched or relied upon; with Server set, every query goes
// to that one server (a lab, or an internal resolver) with RD=1. UDP answers
// with TC=1 are retried over TCP. NXDOMAIN, NODATA, SERVFAIL, REFUSED and
// timeouts stay apart (auth.Answer). The Client implements auth.Resolver.
package dnsq

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"cutover/model/auth"
)

// RootServers are IPv4 addresses of the root servers (root hints), the start
// of every delegation walk.
var RootServers = []string{
	"198.41.0.4:53", "192.33.4.12:53", "199.7.91.13:53", "192.203.230.10:53", "192.5.5.241:53",
	"192.36.148.17:53", "192.58.128.30:53", "193.0.14.129:53", "199.7.83.42:53", "202.12.27.33:53",
}

// Client queries DNS. The zero value walks from the real root servers.
type Client struct {
	// Server, when set (HOST:PORT), receives every query, with RD=1.
	Server string
	// Roots start the delegation walk (default RootServers).
	Roots []string
	// AddrMap rewrites a server address learnt from glue or an A lookup
	// (IP only) to HOST:PORT; unmapped addresses get port 53. Tests and labs
	// run several servers on one loopback address this way.
	AddrMap map[string]string
	// Timeout per attempt (default 2 s); UDP is tried Retries times (default 2).
	Timeout time.Duration
	Retries int

	mu   sync.Mutex
	cuts map[string][]string // zone cut (FQDN) → server addresses
}

// NS is one authoritative server of a zone.
type NS struct {
	Name string `json:"name"`
	Addr string `json:"addr"`
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return 2 * time.Second
}

func (c *Client) retries() int {
	if c.Retries > 0 {
		return c.Retries
	}
	return 2
}

func (c *Client) mapAddr(ip string) string {
	if a, ok := c.AddrMap[ip]; ok {
		return a
	}
	return net.JoinHostPort(ip, "53")
}

// Exchange sends one question to one server (UDP, then TCP when truncated)
// and classifies the response.
func (c *Client) Exchange(ctx context.Context, server, name string, t auth.Type, rd bool) (*dns.Msg, auth.Answer) {
	req := new(dns.Msg)
	req.SetQuestion(dns.Fqdn(name), uint16(t))
	req.RecursionDesired = rd
	req.SetEdns0(1232, false)
	var resp *dns.Msg
	var err error
	for i := 0; i < c.retries(); i++ {
		if ctx.Err() != nil {
			err = ctx.Err()
			break
		}
		cl := &dns.Client{Net: "udp", Timeout: c.timeout()}
		resp, _, err = cl.ExchangeContext(ctx, req, server)
		if err == nil {
			break
		}
	}
	if err == nil && resp.Truncated {
		cl := &dns.Client{Net: "tcp", Timeout: c.timeout()}
		resp, _, err = cl.ExchangeContext(ctx, req, server)
	}
	if err != nil {
		rc := auth.OtherErr
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
			rc = auth.Timeout
		}
		return nil, auth.Answer{Rcode: rc, Server: server, Err: err}
	}
	return resp, classify(resp, name, t, server)
}

func classify(resp *dns.Msg, name string, t auth.Type, server string) auth.Answer {
	a := auth.Answer{Server: server, Size: resp.Len()}
	switch resp.Rcode {
	case dns.RcodeSuccess:
		a.Rcode = auth.NoError
	case dns.RcodeNameError:
		a.Rcode = auth.NXDomain
	case dns.RcodeServerFailure:
		a.Rcode = auth.ServFail
	case dns.RcodeRefused:
		a.Rcode = auth.Refused
	default:
		a.Rcode = auth.OtherErr
		a.Err = fmt.Errorf("rcode %s", dns.RcodeToString[resp.Rcode])
	}
	// Follow the CNAME chain inside the answer section.
	want := strings.ToLower(dns.Fqdn(name))
	for hop := 0; hop < 8; hop++ {
		next := ""
		for _, rr := range resp.Answer {
			h := rr.Header()
			if strings.ToLower(h.Name) != want {
				continue
			}
			if h.Rrtype == uint16(t) {
				a.RRs = append(a.RRs, convert(rr))
			} else if cn, ok := rr.(*dns.CNAME); ok && t != auth.TypeCNAME {
				next = strings.ToLower(cn.Target)
			}
		}
		if len(a.RRs) > 0 || next == "" {
			break
		}
		want = next
	}
	return a
}

func convert(rr dns.RR) auth.RR {
	h := rr.Header()
	out := auth.RR{Name: auth.Canon(h.Name), Type: auth.Type(h.Rrtype), TTL: h.Ttl}
	switch v := rr.(type) {
	case *dns.A:
		out.Data = v.A.String()
	case *dns.AAAA:
		out.Data = v.AAAA.String()
	case *dns.MX:
		out.Data, out.Pref = auth.Canon(v.Mx), v.Preference
	case *dns.PTR:
		out.Data = auth.Canon(v.Ptr)
	case *dns.CNAME:
		out.Data = auth.Canon(v.Target)
	case *dns.NS:
		out.Data = auth.Canon(v.Ns)
	case *dns.TXT:
		for _, t := range v.Txt {
			out.Strings = append(out.Strings, unescapeTXT(t))
		}
		out.Data = strings.Join(out.Strings, "")
	case *dns.SOA:
		out.Data, out.Serial = auth.Canon(v.Ns), v.Serial
	default:
		out.Data = strings.TrimPrefix(rr.String(), h.String())
	}
	return out
}

// Lookup implements auth.Resolver.
func (c *Client) Lookup(ctx context.Context, name string, t auth.Type) auth.Answer {
	if c.Server != "" {
		_, a := c.Exchange(ctx, c.Server, name, t, true)
		return a
	}
	a, _ := c.resolve(ctx, auth.Canon(name), t, 0)
	return a
}

// Authoritative returns the zone cut of name and its servers: the parent's
// delegation plus the zone's own NS RRset. With Server set, that server.
func (c *Client) Authoritative(ctx context.Context, name string) (string, []NS, error) {
	if c.Server != "" {
		return "", []NS{{Name: c.Server, Addr: c.Server}}, nil
	}
	a, cut := c.resolve(ctx, auth.Canon(name), auth.TypeSOA, 0)
	if cut == "" {
		return "", nil, fmt.Errorf("no delegation found for %s: %s", name, a.Describe())
	}
	servers := c.cut(cut)
	if len(servers) == 0 && cut == "." {
		// The roots answered themselves (a lab whose root serves the zone).
		_, servers = c.closest(".")
	}
	var out []NS
	seen := map[string]bool{}
	for _, s := range servers {
		if !seen[s] {
			seen[s] = true
			out = append(out, NS{Name: s, Addr: s})
		}
	}
	// The zone's own NS RRset (it may list servers the parent does not).
	if len(servers) > 0 {
		if _, nsa := c.Exchange(ctx, servers[0], cut, auth.TypeNS, false); nsa.Rcode == auth.NoError {
			for _, rr := range nsa.RRs {
				for _, addr := range c.addrsOf(ctx, rr.Data, nil, 0) {
					if !seen[addr] {
						seen[addr] = true
						out = append(out, NS{Name: rr.Data, Addr: addr})
					}
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return auth.Canon(cut), out, nil
}

// QueryEach asks every authoritative server of name (RD=0) and returns each
// answer, in the order of Authoritative.
func (c *Client) QueryEach(ctx context.Context, name string, t auth.Type) (string, []NS, []auth.Answer, error) {
	zone, servers, err := c.Authoritative(ctx, name)
	if err != nil {
		return "", nil, nil, err
	}
	out := make([]auth.Answer, len(servers))
	for i, s := range servers {
		_, out[i] = c.Exchange(ctx, s.Addr, name, t, c.Server != "")
	}
	return zone, servers, out, nil
}

func (c *Client) cut(zone string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cuts[zone]
}

func (c *Client) setCut(zone string, servers []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cuts == nil {
		c.cuts = map[string][]string{}
	}
	c.cuts[zone] = servers
}

// closest returns the deepest known cut at or above name (the root if none).
func (c *Client) closest(fqdn string) (string, []string) {
	labels := dns.SplitDomainName(fqdn)
	for i := 0; i < len(labels); i++ {
		z := dns.Fqdn(strings.Join(labels[i:], "."))
		if s := c.cut(z); len(s) > 0 {
			return z, s
		}
	}
	roots := c.Roots
	if len(roots) == 0 {
		roots = RootServers
	}
	return ".", roots
}

// resolve walks the delegations down to name's authoritative servers and
// returns their answer and the zone cut that answered.
func (c *Client) resolve(ctx context.Context, name string, t auth.Type, depth int) (auth.Answer, string) {
	if depth > 4 {
		return auth.Answer{Rcode: auth.OtherErr, Err: errors.New("too many nested name server lookups")}, ""
	}
	fqdn := dns.Fqdn(name)
	zone, servers := c.closest(fqdn)
	for hop := 0; hop < 16; hop++ {
		var resp *dns.Msg
		var last auth.Answer
		for _, s := range servers {
			r, a := c.Exchange(ctx, s, fqdn, t, false)
			last = a
			if r != nil && (a.Rcode == auth.NoError || a.Rcode == auth.NXDomain) {
				resp = r
				break
			}
		}
		if resp == nil {
			if last.Rcode == auth.NoError && last.Server == "" {
				last = auth.Answer{Rcode: auth.OtherErr, Err: errors.New("no server for " + zone)}
			}
			return last, ""
		}
		ans := classify(resp, fqdn, t, last.Server)
		if len(ans.RRs) > 0 || resp.Rcode == dns.RcodeNameError || resp.Authoritative {
			// A CNAME pointing out of this zone: resolve the target afresh.
			if len(ans.RRs) == 0 && ans.Rcode == auth.NoError && t != auth.TypeCNAME {
				if target := cnameTarget(resp, fqdn); target != "" {
					a, cut := c.resolve(ctx, auth.Canon(target), t, depth+1)
					return a, cut
				}
			}
			return ans, zone
		}
		// Referral: NS records for a zone below the current one.
		next, nsNames := "", []string(nil)
		for _, rr := range resp.Ns {
			if ns, ok := rr.(*dns.NS); ok {
				owner := strings.ToLower(ns.Header().Name)
				if owner != zone && dns.IsSubDomain(zone, owner) && dns.IsSubDomain(owner, fqdn) {
					next = owner
					nsNames = append(nsNames, strings.ToLower(ns.Ns))
				}
			}
		}
		if next == "" {
			// No answer, no referral: NODATA from a non-AA server.
			return ans, zone
		}
		var addrs []string
		for _, n := range nsNames {
			addrs = append(addrs, c.addrsOf(ctx, n, resp.Extra, depth)...)
		}
		if len(addrs) == 0 {
			return auth.Answer{Rcode: auth.ServFail, Server: last.Server, Err: fmt.Errorf("no address for the name servers of %s", next)}, ""
		}
		c.setCut(next, addrs)
		zone, servers = next, addrs
	}
	return auth.Answer{Rcode: auth.OtherErr, Err: errors.New("too many referrals")}, ""
}

// addrsOf returns the server addresses of a name server: glue first, else
// an A lookup of its own.
func (c *Client) addrsOf(ctx context.Context, nsName string, extra []dns.RR, depth int) []string {
	var out []string
	for _, rr := range extra {
		if a, ok := rr.(*dns.A); ok && strings.EqualFold(a.Header().Name, dns.Fqdn(nsName)) {
			out = append(out, c.mapAddr(a.A.String()))
		}
	}
	if len(out) > 0 {
		return out
	}
	a, _ := c.resolve(ctx, auth.Canon(nsName), auth.TypeA, depth+1)
	for _, rr := range a.RRs {
		out = append(out, c.mapAddr(rr.Data))
	}
	return out
}

func cnameTarget(resp *dns.Msg, fqdn string) string {
	want := strings.ToLower(fqdn)
	for hop := 0; hop < 8; hop++ {
		next := ""
		for _, rr := range resp.Answer {
			if cn, ok := rr.(*dns.CNAME); ok && strings.ToLower(cn.Header().Name) == want {
				next = strings.ToLower(cn.Target)
			}
		}
		if next == "" {
			break
		}
		want = next
	}
	if want == strings.ToLower(fqdn) {
		return ""
	}
	return want
}

// unescapeTXT turns miekg/dns's presentation form of a character-string
// (\DDD for bytes outside printable ASCII, \X for a quoted X) back into the
// octets that were on the wire.
func unescapeTXT(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b = append(b, s[i])
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			n := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
			if n < 256 {
				b = append(b, byte(n))
				i += 3
				continue
			}
		}
		b = append(b, s[i+1])
		i++
	}
	return string(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

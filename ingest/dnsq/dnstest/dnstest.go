// Package dnstest runs in-process authoritative DNS servers (miekg/dns) for
// tests: RFC 1035 zone text, UDP and TCP on the same 127.0.0.1 port, knobs
// per name (NXDOMAIN, NODATA, SERVFAIL, drop, truncation) and a query log that
// records the RD bit, so tests can assert that cutover asked authoritative
// servers directly with recursion off.
package dnstest

import (
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Knob changes how a name is answered.
type Knob int

const (
	Normal   Knob = iota
	NXDomain      // RCODE 3 whatever the zone says
	NoData        // NOERROR with no answer
	ServFail      // RCODE 2
	Drop          // no answer at all (the client times out)
	Truncate      // TC=1 without answers over UDP; TCP answers normally
)

// Query is one logged question.
type Query struct {
	Name string // lower case, trailing dot
	Type uint16
	RD   bool
	Net  string // "udp" or "tcp"
}

// Server is one authoritative server.
type Server struct {
	Addr string // 127.0.0.1:port, UDP and TCP

	mu       sync.Mutex
	rrs      map[string][]dns.RR // owner (lower case, FQDN) → records
	apexes   []string
	knobs    map[string]Knob
	log      []Query
	truncAll bool
	udp, tcp *dns.Server
}

// Start serves zone text (one or more zones: every SOA owner is an apex) on
// 127.0.0.1 and stops the server when the test ends.
func Start(t testing.TB, zone string) *Server {
	t.Helper()
	s, err := Listen("127.0.0.1:0", zone)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Listen serves zone on addr (port 0: any free port, the same for UDP and TCP).
func Listen(addr, zone string) (*Server, error) {
	s := &Server{knobs: map[string]Knob{}}
	if err := s.SetZone(zone); err != nil {
		return nil, err
	}
	var pc net.PacketConn
	var ln net.Listener
	var err error
	for try := 0; try < 20; try++ {
		pc, err = net.ListenPacket("udp", addr)
		if err != nil {
			return nil, err
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
		if !strings.HasSuffix(addr, ":0") {
			return nil, err
		}
	}
	if err != nil {
		return nil, err
	}
	s.Addr = pc.LocalAddr().String()
	s.udp = &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(s.serve("udp"))}
	s.tcp = &dns.Server{Listener: ln, Handler: dns.HandlerFunc(s.serve("tcp"))}
	var wg sync.WaitGroup
	wg.Add(2)
	s.udp.NotifyStartedFunc = wg.Done
	s.tcp.NotifyStartedFunc = wg.Done
	go func() { _ = s.udp.ActivateAndServe() }()
	go func() { _ = s.tcp.ActivateAndServe() }()
	wg.Wait()
	return s, nil
}

// Close stops both listeners.
func (s *Server) Close() {
	_ = s.udp.Shutdown()
	_ = s.tcp.Shutdown()
}

// SetZone replaces the served data (a zone change followed by a reload).
func (s *Server) SetZone(text string) error {
	rrs := map[string][]dns.RR{}
	var apexes []string
	zp := dns.NewZoneParser(strings.NewReader(text), ".", "dnstest")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		h := rr.Header()
		h.Name = strings.ToLower(h.Name)
		rrs[h.Name] = append(rrs[h.Name], rr)
		if h.Rrtype == dns.TypeSOA {
			apexes = append(apexes, h.Name)
		}
	}
	if err := zp.Err(); err != nil {
		return fmt.Errorf("dnstest zone: %w", err)
	}
	if len(apexes) == 0 {
		return fmt.Errorf("dnstest zone: no SOA record (every zone needs one)")
	}
	sort.Slice(apexes, func(i, j int) bool { return len(apexes[i]) > len(apexes[j]) })
	s.mu.Lock()
	s.rrs, s.apexes = rrs, apexes
	s.mu.Unlock()
	return nil
}

// Set applies a knob to a name (Normal removes it).
func (s *Server) Set(name string, k Knob) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.knobs[dns.Fqdn(strings.ToLower(name))] = k
}

// TruncateUDP makes every UDP answer larger than 512 octets come back with
// TC=1 and no records, whatever EDNS size the client offered.
func (s *Server) TruncateUDP(on bool) {
	s.mu.Lock()
	s.truncAll = on
	s.mu.Unlock()
}

// Queries returns the query log.
func (s *Server) Queries() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Query(nil), s.log...)
}

func (s *Server) serve(network string) func(dns.ResponseWriter, *dns.Msg) {
	return func(w dns.ResponseWriter, req *dns.Msg) {
		if len(req.Question) != 1 {
			m := new(dns.Msg)
			m.SetRcode(req, dns.RcodeFormatError)
			_ = w.WriteMsg(m)
			return
		}
		q := req.Question[0]
		qname := strings.ToLower(q.Name)
		s.mu.Lock()
		s.log = append(s.log, Query{Name: qname, Type: q.Qtype, RD: req.RecursionDesired, Net: network})
		knob := s.knobs[qname]
		truncAll := s.truncAll
		m := s.answer(req, qname, q.Qtype)
		s.mu.Unlock()
		switch knob {
		case Drop:
			return
		case NXDomain:
			m.Answer, m.Ns, m.Extra = nil, nil, nil
			m.Rcode = dns.RcodeNameError
		case NoData:
			m.Answer, m.Extra = nil, nil
			m.Rcode = dns.RcodeSuccess
		case ServFail:
			m.Answer, m.Ns, m.Extra = nil, nil, nil
			m.Rcode = dns.RcodeServerFailure
		}
		if network == "udp" && (knob == Truncate || (truncAll && m.Len() > 512)) {
			m.Truncated = true
			m.Answer, m.Ns, m.Extra = nil, nil, nil
		}
		_ = w.WriteMsg(m)
	}
}

// answer builds the authoritative answer, a referral or a name error.
// Called with s.mu held.
func (s *Server) answer(req *dns.Msg, qname string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = false
	apex := ""
	for _, a := range s.apexes {
		if dns.IsSubDomain(a, qname) {
			apex = a
			break
		}
	}
	if apex == "" {
		m.Rcode = dns.RcodeRefused
		return m
	}
	// A delegation below the apex at or above qname: referral with glue.
	labels := dns.SplitDomainName(qname)
	for i := 0; i < len(labels); i++ {
		cut := dns.Fqdn(strings.Join(labels[i:], "."))
		if cut == apex || !dns.IsSubDomain(apex, cut) {
			continue
		}
		var ns []dns.RR
		for _, rr := range s.rrs[cut] {
			if rr.Header().Rrtype == dns.TypeNS {
				ns = append(ns, rr)
			}
		}
		if len(ns) == 0 {
			continue
		}
		m.Ns = ns
		for _, rr := range ns {
			for _, g := range s.rrs[strings.ToLower(rr.(*dns.NS).Ns)] {
				if t := g.Header().Rrtype; t == dns.TypeA || t == dns.TypeAAAA {
					m.Extra = append(m.Extra, g)
				}
			}
		}
		return m
	}
	m.Authoritative = true
	name := qname
	for hop := 0; hop < 8; hop++ {
		recs, exists := s.rrs[name]
		var match, cname []dns.RR
		for _, rr := range recs {
			switch rr.Header().Rrtype {
			case qtype:
				match = append(match, rr)
			case dns.TypeCNAME:
				cname = append(cname, rr)
			}
		}
		if len(match) > 0 {
			m.Answer = append(m.Answer, match...)
			return m
		}
		if len(cname) > 0 && qtype != dns.TypeCNAME {
			m.Answer = append(m.Answer, cname[0])
			name = strings.ToLower(cname[0].(*dns.CNAME).Target)
			if !dns.IsSubDomain(apex, name) {
				return m
			}
			continue
		}
		if !exists && !s.hasBelow(name) {
			if name == qname {
				m.Rcode = dns.RcodeNameError
			}
		}
		s.addSOA(m, apex)
		return m
	}
	return m
}

func (s *Server) hasBelow(name string) bool {
	for owner := range s.rrs {
		if owner != name && dns.IsSubDomain(name, owner) {
			return true
		}
	}
	return false
}

func (s *Server) addSOA(m *dns.Msg, apex string) {
	for _, rr := range s.rrs[apex] {
		if rr.Header().Rrtype == dns.TypeSOA {
			m.Ns = append(m.Ns, rr)
		}
	}
}

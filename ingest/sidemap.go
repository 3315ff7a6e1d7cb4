package ingest

import (
	"fmt"
	"net/netip"
	"path"
	"strings"

	"cutover/model"
)

// SideMap assigns events to the old or new side by vmta, vmta pool,
// transport or source-IP pattern. During a cutover one PowerMTA often carries
// both sides (a warm vmta relaying to the old provider, a cold one on the new
// IPs), so the side cannot always come from the source alone.
type SideMap struct {
	rules []sideRule
}

type sideRule struct {
	glob   string       // matched against vmta, pool and transport
	prefix netip.Prefix // matched against the source IP, when valid
	side   model.Side
	text   string
}

// ParseSideMap parses "pattern=side" items separated by commas, e.g.
// `vmta-old-*=old,198.51.100.0/24=new`. A pattern is a CIDR, an IP address,
// or a glob (path.Match syntax) on vmta, pool or transport names.
func ParseSideMap(spec string) (SideMap, error) {
	var items []string
	for _, it := range strings.Split(spec, ",") {
		if it = strings.TrimSpace(it); it != "" {
			items = append(items, it)
		}
	}
	return NewSideMap(items)
}

// NewSideMap builds a SideMap from "pattern=side" items; the first matching
// item wins.
func NewSideMap(items []string) (SideMap, error) {
	var m SideMap
	for _, it := range items {
		i := strings.LastIndexByte(it, '=')
		if i <= 0 {
			return SideMap{}, fmt.Errorf("side map item %q: want pattern=old|new", it)
		}
		pat, sideText := strings.TrimSpace(it[:i]), it[i+1:]
		side, err := model.ParseSide(sideText)
		if err != nil {
			return SideMap{}, fmt.Errorf("side map item %q: %v", it, err)
		}
		r := sideRule{side: side, text: it}
		if p, err := netip.ParsePrefix(pat); err == nil {
			r.prefix = p.Masked()
		} else if a, err := netip.ParseAddr(pat); err == nil {
			r.prefix = netip.PrefixFrom(a, a.BitLen())
		} else {
			if _, err := path.Match(pat, ""); err != nil {
				return SideMap{}, fmt.Errorf("side map item %q: bad pattern: %v", it, err)
			}
			r.glob = pat
		}
		m.rules = append(m.rules, r)
	}
	return m, nil
}

// Empty reports a map with no rules.
func (m SideMap) Empty() bool { return len(m.rules) == 0 }

// Side returns the side of the first rule that matches the event, or def.
func (m SideMap) Side(ev *model.Event, def model.Side) model.Side {
	if len(m.rules) == 0 {
		return def
	}
	var ip netip.Addr
	ipParsed := false
	for i := range m.rules {
		r := &m.rules[i]
		if r.glob != "" {
			for _, name := range [...]string{ev.VMTA, ev.Pool, ev.Transport} {
				if name != "" {
					if ok, _ := path.Match(r.glob, name); ok {
						return r.side
					}
				}
			}
			continue
		}
		if !ipParsed {
			ipParsed = true
			ip, _ = netip.ParseAddr(strings.Trim(ev.SourceIP, "[]"))
		}
		if ip.IsValid() && r.prefix.Contains(ip.Unmap()) {
			return r.side
		}
	}
	return def
}

package model

import (
	"sort"
	"strings"
)

// ISPOther is the provider of every domain no rule matches.
const ISPOther = "other"

// ISPTable maps recipient domains (exact) and MX host suffixes to mailbox
// providers. The zero value is unusable; use DefaultISPTable or NewISPTable.
type ISPTable struct {
	domains map[string]string
	mx      []mxRule // longest suffix first, so ".olc.protection.outlook.com" wins
	order   []string // provider names in display order
}

type mxRule struct {
	suffix string
	isp    string
}

// Built-in consumer domains. Sources: Thunderbird ISPDB and provider postmaster
// pages (see shared/reference/suppression-bounce-isp.md §4.1).
var builtinDomains = map[string][]string{
	"google": {"gmail.com", "googlemail.com"},
	"microsoft": expand([]string{"hotmail.com", "live.com", "msn.com", "outlook.com", "windowslive.com", "livemail.tw"},
		"outlook", []string{"at", "be", "cl", "cz", "de", "dk", "es", "fr", "hu", "ie", "in", "it", "jp", "kr", "lv", "my", "ph", "pt", "sa", "sg", "sk", "co.id", "co.il", "co.th", "com.ar", "com.au", "com.br", "com.gr", "com.tr", "com.vn"},
		"hotmail", []string{"be", "ca", "cl", "cz", "de", "dk", "es", "fi", "fr", "gr", "hu", "it", "lt", "lv", "my", "nl", "no", "ph", "rs", "se", "sg", "sk", "co.id", "co.il", "co.in", "co.jp", "co.kr", "co.th", "co.uk", "co.za", "com.ar", "com.au", "com.br", "com.hk", "com.tr", "com.tw", "com.vn"},
		"live", []string{"at", "be", "ca", "cl", "cn", "de", "dk", "fi", "fr", "hk", "ie", "in", "it", "jp", "nl", "no", "ru", "se", "co.jp", "co.kr", "co.uk", "co.za", "com.ar", "com.au", "com.mx", "com.my", "com.ph", "com.pt", "com.sg"}),
	"yahoo": expand([]string{"yahoo.com", "ymail.com", "myyahoo.com", "rocketmail.com", "aol.com", "aim.com", "netscape.net", "netscape.com", "compuserve.com", "cs.com", "wmconnect.com", "verizon.net", "cox.net"},
		"yahoo", []string{"ca", "de", "it", "fr", "es", "se", "co.in", "co.uk", "co.nz", "co.jp", "com.au", "com.ar", "com.br", "com.mx"},
		"aol", []string{"de", "it", "fr", "es", "se", "co.uk", "co.nz", "com.au", "com.ar", "com.br", "com.mx"}),
	"apple":    {"icloud.com", "me.com", "mac.com"},
	"comcast":  {"comcast.net"},
	"att":      {"att.net", "ameritech.net", "bellsouth.net", "currently.com", "flash.net", "nvbell.net", "pacbell.net", "prodigy.net", "sbcglobal.net", "snet.net", "swbell.net", "wans.net"},
	"gmx":      {"gmx.net", "gmx.de", "gmx.at", "gmx.ch", "gmx.eu", "gmx.biz", "gmx.org", "gmx.info", "gmx.com", "gmx.us", "web.de"},
	"orange":   {"orange.fr", "wanadoo.fr"},
	"free":     {"free.fr"},
	"sfr":      {"sfr.fr", "neuf.fr", "club-internet.fr"},
	"laposte":  {"laposte.net"},
	"t-online": {"t-online.de", "magenta.de"},
	"libero":   {"libero.it", "iol.it", "blu.it", "inwind.it", "giallo.it"},
	"mailru":   {"mail.ru", "inbox.ru", "list.ru", "bk.ru"},
	"yandex":   {"yandex.ru", "yandex.com", "yandex.net", "yandex.by", "yandex.kz", "yandex.ua", "ya.ru", "narod.ru"},
	"tencent":  {"qq.com", "foxmail.com"},
	"netease":  {"163.com", "126.com", "yeah.net"},
	"naver":    {"naver.com"},
}

// Built-in MX host suffixes, for custom domains hosted by a big provider.
var builtinMX = map[string][]string{
	"google":    {".google.com", ".googlemail.com", ".psmtp.com"},
	"yahoo":     {".yahoodns.net", ".mail.aol.com", ".mx.aol.com"},
	"microsoft": {".olc.protection.outlook.com", ".mail.protection.outlook.com", ".protection.outlook.com", ".mx.microsoft", ".prod.outlook.com"},
	"apple":     {".icloud.com", ".mail.icloud.com", ".me.com"},
	"comcast":   {".comcast.net"},
	"att":       {".prodigy.net", ".att.net"},
	"gmx":       {".gmx.net", ".gmx.com", ".web.de"},
	"orange":    {".orange.fr", ".wanadoo.fr"},
	"free":      {".free.fr"},
	"mailru":    {".mail.ru"},
	"yandex":    {".yandex.ru", ".yandex.net"},
	"tencent":   {".qq.com"},
	"netease":   {".163.com", ".126.com", ".netease.com"},
	"naver":     {".naver.com"},
}

// BuiltinOrder is the display order of the built-in providers (busiest
// consumer providers first); the UI sorts by volume, this breaks ties.
var BuiltinOrder = []string{"google", "microsoft", "yahoo", "apple", "comcast", "att", "gmx", "orange", "free", "sfr", "laposte", "t-online", "libero", "mailru", "yandex", "tencent", "netease", "naver"}

func expand(base []string, pairs ...any) []string {
	out := append([]string(nil), base...)
	for i := 0; i+1 < len(pairs); i += 2 {
		stem := pairs[i].(string)
		for _, tld := range pairs[i+1].([]string) {
			out = append(out, stem+"."+tld)
		}
	}
	return out
}

// DefaultISPTable returns the built-in table.
func DefaultISPTable() *ISPTable {
	return NewISPTable(nil, nil)
}

// NewISPTable builds the built-in table with overrides applied: domains maps a
// domain to a provider (replacing the built-in entry), mx maps an MX host
// suffix to a provider. A provider name "" removes the entry.
func NewISPTable(domains, mx map[string]string) *ISPTable {
	t := &ISPTable{domains: map[string]string{}}
	for isp, ds := range builtinDomains {
		for _, d := range ds {
			t.domains[d] = isp
		}
	}
	mxs := map[string]string{}
	for isp, ss := range builtinMX {
		for _, s := range ss {
			mxs[s] = isp
		}
	}
	for d, isp := range domains {
		d = strings.ToLower(strings.TrimSpace(d))
		if isp == "" {
			delete(t.domains, d)
		} else {
			t.domains[d] = strings.ToLower(isp)
		}
	}
	for s, isp := range mx {
		s = strings.ToLower(strings.TrimSpace(s))
		if !strings.HasPrefix(s, ".") {
			s = "." + s
		}
		if isp == "" {
			delete(mxs, s)
		} else {
			mxs[s] = strings.ToLower(isp)
		}
	}
	for s, isp := range mxs {
		t.mx = append(t.mx, mxRule{s, isp})
	}
	sort.Slice(t.mx, func(i, j int) bool {
		if len(t.mx[i].suffix) != len(t.mx[j].suffix) {
			return len(t.mx[i].suffix) > len(t.mx[j].suffix)
		}
		return t.mx[i].suffix < t.mx[j].suffix
	})
	seen := map[string]bool{}
	for _, isp := range BuiltinOrder {
		seen[isp] = true
		t.order = append(t.order, isp)
	}
	var extra []string
	for _, isp := range t.domains {
		if !seen[isp] {
			seen[isp] = true
			extra = append(extra, isp)
		}
	}
	for _, r := range t.mx {
		if !seen[r.isp] {
			seen[r.isp] = true
			extra = append(extra, r.isp)
		}
	}
	sort.Strings(extra)
	t.order = append(t.order, extra...)
	return t
}

// ByDomain returns the provider of an exact domain and whether it is known.
// The domain must already be lower case (Event.Domain is).
func (t *ISPTable) ByDomain(domain string) (string, bool) {
	isp, ok := t.domains[domain]
	return isp, ok
}

// ByMX returns the provider of an MX host name by suffix, and whether a rule
// matched.
func (t *ISPTable) ByMX(host string) (string, bool) {
	host = "." + strings.ToLower(strings.TrimSuffix(host, "."))
	for _, r := range t.mx {
		if strings.HasSuffix(host, r.suffix) {
			return r.isp, true
		}
	}
	return "", false
}

// ByMXSet classifies a domain from all its MX hosts: every host must map to
// the same provider, otherwise the domain is "other" (a gateway in front of
// Google is not Google's reputation).
func (t *ISPTable) ByMXSet(hosts []string) (string, bool) {
	isp := ""
	for _, h := range hosts {
		p, ok := t.ByMX(h)
		if !ok || (isp != "" && p != isp) {
			return "", false
		}
		isp = p
	}
	return isp, isp != ""
}

// Providers lists every provider name the table knows, in display order.
func (t *ISPTable) Providers() []string { return append([]string(nil), t.order...) }

package auth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"strings"
)

// DKIMKey is a parsed key record (RFC 6376 §3.6.1).
type DKIMKey struct {
	Version  string
	KeyType  string // rsa (default) or ed25519
	Hashes   string // h=, empty: all
	Flags    string // t=
	Services string // s=
	Public   []byte // p= decoded; empty: revoked
	Tags     map[string]string
}

// ParseTags splits "k=v; k=v" tag lists (DKIM, DMARC), keeping order;
// whitespace around names and values is ignored (RFC 6376 §3.2).
func ParseTags(txt string) ([]string, map[string]string, error) {
	tags := map[string]string{}
	var order []string
	for _, part := range strings.Split(txt, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		i := strings.IndexByte(part, '=')
		if i <= 0 {
			return order, tags, fmt.Errorf("tag %q has no name=value", part)
		}
		k := strings.TrimSpace(part[:i])
		if _, dup := tags[k]; dup {
			return order, tags, fmt.Errorf("tag %q appears twice", k)
		}
		tags[k] = strings.TrimSpace(part[i+1:])
		order = append(order, k)
	}
	return order, tags, nil
}

// ParseDKIMKey parses a selector's TXT text.
func ParseDKIMKey(txt string) (DKIMKey, error) {
	order, tags, err := ParseTags(txt)
	k := DKIMKey{Tags: tags, KeyType: "rsa"}
	if err != nil {
		return k, err
	}
	if v, ok := tags["v"]; ok {
		if v != "DKIM1" || order[0] != "v" {
			return k, fmt.Errorf("v=%s: must be DKIM1 and the first tag", v)
		}
		k.Version = v
	}
	if kt, ok := tags["k"]; ok {
		k.KeyType = strings.ToLower(kt)
	}
	k.Hashes, k.Flags, k.Services = tags["h"], tags["t"], tags["s"]
	p, ok := tags["p"]
	if !ok {
		return k, fmt.Errorf("no p= tag")
	}
	p = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, p)
	if p != "" {
		if k.Public, err = base64.StdEncoding.DecodeString(p); err != nil {
			return k, fmt.Errorf("p= is not base64: %v", err)
		}
	}
	return k, nil
}

// PublicKey decodes the record's key: RSA as SubjectPublicKeyInfo (or
// PKCS#1, which some publishers use), ed25519 as the raw 32 octets (RFC 8463).
func (k DKIMKey) PublicKey() (crypto.PublicKey, int, error) {
	switch k.KeyType {
	case "rsa":
		if pub, err := x509.ParsePKIXPublicKey(k.Public); err == nil {
			rk, ok := pub.(*rsa.PublicKey)
			if !ok {
				return nil, 0, fmt.Errorf("k=rsa but p= holds a %T", pub)
			}
			return rk, rk.N.BitLen(), nil
		}
		rk, err := x509.ParsePKCS1PublicKey(k.Public)
		if err != nil {
			return nil, 0, fmt.Errorf("p= is not an RSA public key")
		}
		return rk, rk.N.BitLen(), nil
	case "ed25519":
		if len(k.Public) != ed25519.PublicKeySize {
			return nil, 0, fmt.Errorf("ed25519 p= is %d octets (want 32)", len(k.Public))
		}
		return ed25519.PublicKey(k.Public), 256, nil
	}
	return nil, 0, fmt.Errorf("unknown key type k=%s", k.KeyType)
}

// LoadPrivateKey reads a PEM private key (PKCS#1 or PKCS#8, RSA or ed25519).
func LoadPrivateKey(pemBytes []byte) (crypto.Signer, error) {
	b, _ := pem.Decode(pemBytes)
	if b == nil {
		return nil, fmt.Errorf("no PEM block")
	}
	if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not a PKCS#1 or PKCS#8 private key: %v", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", k)
	}
	switch s.(type) {
	case *rsa.PrivateKey, ed25519.PrivateKey:
		return s, nil
	}
	return nil, fmt.Errorf("unsupported private key type %T (DKIM signs with RSA or ed25519)", k)
}

// KeySeverity classifies an RSA key size: < 1024 CRIT (RFC 8301 MUST),
// < 2048 WARN, else OK.
func KeySeverity(bits int) Severity {
	switch {
	case bits < 1024:
		return Crit
	case bits < 2048:
		return Warn
	}
	return OK
}

// DKIMReport is the check of one selector.
type DKIMReport struct {
	Domain   string   `json:"domain"`
	Selector string   `json:"selector"`
	Name     string   `json:"name"`
	Record   string   `json:"record,omitempty"`
	KeyType  string   `json:"key_type,omitempty"`
	Bits     int      `json:"bits,omitempty"`
	Matches  *bool    `json:"matches_local_key,omitempty"`
	Findings Findings `json:"findings"`
	Severity Severity `json:"severity"`
}

func (r *DKIMReport) add(s Severity, msg string) {
	r.Findings = append(r.Findings, Finding{Severity: s, Check: "dkim", Name: r.Name, Record: r.Record, Message: msg})
}

// CheckDKIM checks the selector's record (§5.4). local is the public half of
// the key the MTA signs with (nil: not compared). isNew: an empty p= (revoked)
// is CRIT; for a retired OLD selector it is expected.
func CheckDKIM(ctx context.Context, r Resolver, domain, selector string, local crypto.PublicKey, isNew bool) *DKIMReport {
	rep := &DKIMReport{Domain: Canon(domain), Selector: selector}
	rep.Name = selector + "._domainkey." + rep.Domain
	a := r.Lookup(ctx, rep.Name, TypeTXT)
	if a.Temporary() {
		rep.add(Unknown, "TXT lookup failed: "+a.Describe())
		rep.Severity = rep.Findings.Worst()
		return rep
	}
	if len(a.RRs) == 0 {
		rep.add(Crit, "selector not published ("+a.Describe()+")")
		rep.Severity = rep.Findings.Worst()
		return rep
	}
	if len(a.RRs) > 1 {
		rep.add(Crit, fmt.Sprintf("%d TXT records at the selector (exactly one allowed; verifiers permfail)", len(a.RRs)))
	}
	rep.Record = a.RRs[0].Data
	k, err := ParseDKIMKey(rep.Record)
	if err != nil {
		rep.add(Crit, "key record does not parse: "+err.Error())
		rep.Severity = rep.Findings.Worst()
		return rep
	}
	rep.KeyType = k.KeyType
	if len(k.Public) == 0 {
		if isNew {
			rep.add(Crit, "p= is empty: the key is revoked")
		} else {
			rep.add(OK, "p= is empty: retired (revoked) as planned")
		}
		rep.Severity = rep.Findings.Worst()
		return rep
	}
	if k.Hashes != "" && !strings.Contains(":"+strings.ReplaceAll(k.Hashes, " ", "")+":", ":sha256:") {
		rep.add(Crit, "h="+k.Hashes+" does not allow sha256")
	}
	for _, f := range strings.Split(k.Flags, ":") {
		switch strings.TrimSpace(f) {
		case "y":
			rep.add(Warn, "t=y: the domain is testing DKIM (verifiers may treat failures as unsigned)")
		case "s":
			rep.add(Info, "t=s: i= must equal d= (no subdomains)")
		}
	}
	if s := k.Services; s != "" && s != "*" && !strings.Contains(":"+s+":", ":email:") {
		rep.add(Crit, "s="+s+" does not include email")
	}
	pub, bits, err := k.PublicKey()
	if err != nil {
		rep.add(Crit, err.Error())
		rep.Severity = rep.Findings.Worst()
		return rep
	}
	rep.Bits = bits
	if k.KeyType == "rsa" {
		switch KeySeverity(bits) {
		case Crit:
			rep.add(Crit, fmt.Sprintf("RSA key of %d bits: below 1024, verifiers must not accept it (RFC 8301)", bits))
		case Warn:
			rep.add(Warn, fmt.Sprintf("RSA key of %d bits: 2048 recommended", bits))
		default:
			rep.add(OK, fmt.Sprintf("RSA key of %d bits", bits))
		}
	} else {
		rep.add(Warn, "ed25519 key: publish it alongside an RSA selector (receiver support is patchy)")
	}
	if local != nil {
		m := samePublic(pub, local)
		rep.Matches = &m
		if m {
			rep.add(OK, "published key matches the key the NEW MTA signs with")
		} else {
			rep.add(Crit, "published key does not match the key the NEW MTA signs with")
		}
	}
	rep.Severity = rep.Findings.Worst()
	return rep
}

func samePublic(a, b crypto.PublicKey) bool {
	x, err1 := x509.MarshalPKIXPublicKey(a)
	y, err2 := x509.MarshalPKIXPublicKey(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// DKIMRecord renders the TXT text to publish for a public key.
func DKIMRecord(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(k), nil
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return "", err
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	}
	return "", fmt.Errorf("unsupported key %T", pub)
}

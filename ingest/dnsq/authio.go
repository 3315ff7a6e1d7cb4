package dnsq

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"golang.org/x/net/publicsuffix"

	"cutover/model/auth"
)

// OrgDomain is the RFC 7489 organizational domain by the Public Suffix List.
func OrgDomain(domain string) (string, error) {
	return publicsuffix.EffectiveTLDPlusOne(auth.Canon(domain))
}

// TestMessage is the synthetic message the DKIM test signature covers.
func TestMessage(domain string, at time.Time) []byte {
	return []byte("From: postmaster@" + domain + "\r\n" +
		"To: postmaster@" + domain + "\r\n" +
		"Subject: cutover DKIM test\r\n" +
		"Date: " + at.UTC().Format(time.RFC1123Z) + "\r\n" +
		"Message-ID: <dkim-test." + fmt.Sprint(at.UnixNano()) + "@" + domain + ">\r\n" +
		"\r\n" +
		"This message checks that the published selector verifies the key the NEW MTA signs with.\r\n")
}

// Sign signs msg with key as d=domain s=selector, relaxed/relaxed.
func Sign(msg []byte, domain, selector string, key crypto.Signer) ([]byte, error) {
	var out bytes.Buffer
	err := dkim.Sign(&out, bytes.NewReader(msg), &dkim.SignOptions{
		Domain: domain, Selector: selector, Signer: key,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             []string{"From", "To", "Subject", "Date", "Message-ID"},
	})
	return out.Bytes(), err
}

// Verify verifies every signature of msg, fetching keys through r.
func Verify(ctx context.Context, r auth.Resolver, msg []byte) ([]*dkim.Verification, error) {
	return dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			a := r.Lookup(ctx, name, auth.TypeTXT)
			if a.Temporary() {
				return nil, &net.DNSError{Err: a.Describe(), Name: name, IsTemporary: true}
			}
			var out []string
			for _, rr := range a.RRs {
				out = append(out, rr.Data)
			}
			if len(out) == 0 {
				return nil, fmt.Errorf("no key for %s: %s", name, a.Describe())
			}
			return out, nil
		},
	})
}

// TestSignature signs a synthetic message with key and verifies it through
// r (§5.4). It returns "pass" or the verifier's error.
func TestSignature(ctx context.Context, r auth.Resolver, domain, selector string, key crypto.Signer, now time.Time) (string, error) {
	signed, err := Sign(TestMessage(domain, now), domain, selector, key)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	vs, err := Verify(ctx, r, signed)
	if err != nil {
		return "", err
	}
	if len(vs) != 1 {
		return "", fmt.Errorf("%d signatures found, want 1", len(vs))
	}
	if vs[0].Err != nil {
		if dkim.IsTempFail(vs[0].Err) {
			return "temperror", vs[0].Err
		}
		return "fail", vs[0].Err
	}
	return "pass", nil
}

// DataHash hashes a record set's data (sorted, TTL excluded): two servers
// serving the same data give the same hash.
func DataHash(rrs []auth.RR) string {
	var d []string
	for _, rr := range rrs {
		d = append(d, fmt.Sprintf("%d %s %q", rr.Type, rr.Data, rr.Strings))
	}
	sort.Strings(d)
	h := sha256.Sum256([]byte(strings.Join(d, "\n")))
	return hex.EncodeToString(h[:])
}

// Observe asks every authoritative server of name for the record and for the
// zone's SOA serial, stamping every observation with at (one round).
func (c *Client) Observe(ctx context.Context, name string, t auth.Type, at time.Time) ([]auth.Obs, error) {
	zone, servers, answers, err := c.QueryEach(ctx, name, t)
	if err != nil {
		return nil, err
	}
	out := make([]auth.Obs, len(servers))
	for i, s := range servers {
		a := answers[i]
		o := auth.Obs{At: at, NS: s.Addr, Rcode: a.Rcode.String(), Data: DataHash(a.RRs)}
		for _, rr := range a.RRs {
			if rr.TTL > o.TTL {
				o.TTL = rr.TTL
			}
		}
		soaName := zone
		if soaName == "" {
			soaName = name
		}
		if _, sa := c.Exchange(ctx, s.Addr, soaName, auth.TypeSOA, c.Server != ""); len(sa.RRs) > 0 {
			o.Serial = sa.RRs[0].Serial
		}
		out[i] = o
	}
	return out, nil
}

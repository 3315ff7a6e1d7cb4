package model

import "testing"

func TestDomainKey(t *testing.T) {
	for in, want := range map[string]string{
		"a@Example.COM":            "example.com",
		"<a@example.org.>":         "example.org",
		"x@bücher.de":              "xn--bcher-kva.de",
		"x@BÜCHER.de":              "xn--bcher-kva.de",
		"x@xn--bcher-kva.de":       "xn--bcher-kva.de",
		`"abc@def"@dom.example`:    "dom.example",
		"root@localhost":           "localhost",
		"x@mail_relay.example":     "mail_relay.example",
		"|/usr/bin/cmd <orig@dom>": "dom", // the parser decides which address counts
		"orig@dom> r=tickets t=address_pipe: child process": "",
		"x@[192.0.2.1]":       "",
		"x@192.0.2.1":         "",
		"x@a b.example":       "",
		"x@a,b.example":       "",
		"x@a:b.example":       "",
		"x@\"q\".example":     "",
		"x@-bad.example":      "",
		"x@bad-.example":      "",
		"x@a..b":              "",
		"x@":                  "",
		"nobody":              "",
		":blackhole:":         "",
		"x@exa\x00mple.com":   "",
		"x@exa\u200bmple.com": "example.com", // UTS 46 maps ZWSP away
	} {
		if got := DomainKey(in); got != want {
			t.Errorf("DomainKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzDomainKey: whatever the address, a key is empty or a host name made
// of hostname bytes only.
func FuzzDomainKey(f *testing.F) {
	for _, s := range []string{"a@b.c", "x@bücher.de", "|/bin/x <a@b>", "a@[1.2.3.4]", "a@b c", "\xff@\xfe", "a@ＥＸＡＭＰＬＥ.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := DomainKey(s)
		for i := 0; i < len(k); i++ {
			c := k[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
				t.Fatalf("DomainKey(%q) = %q: byte %q", s, k, c)
			}
		}
		if k != "" && DomainKey("x@"+k) != k {
			t.Fatalf("DomainKey not stable: %q → %q", k, DomainKey("x@"+k))
		}
	})
}

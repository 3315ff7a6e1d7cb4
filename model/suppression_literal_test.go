package model

import (
	"errors"
	"testing"
)

// Issue 13 point 7: an address that is pattern or shell syntax is refused
// before it reaches an MTA map or a lookup command; real mailboxes with
// ' & # % = + stay valid.
func TestCheckLiteralAddress(t *testing.T) {
	for _, in := range []string{"/^.*$/@x.com", "a*@x.com", "a?b@x.com", "$(id)@x.com", "`id`@x.com", "a|b@x.com",
		"{a}@x.com", "^a@x.com", "!a@x.com", "~a@x.com", "-oProxyCommand@x.com", "/etc/passwd@x.com"} {
		norm, _, err := NormalizeAddress(in)
		if err == nil {
			err = CheckLiteralAddress(norm)
		}
		if !errors.Is(err, ErrAddrPattern) && !errors.Is(err, ErrAddrLocal) {
			t.Errorf("%q: %v, want refused", in, err)
		}
	}
	for _, in := range []string{"o'brien@x.com", "r&d@x.com", "#hash@x.com", "a%b@x.com", "srs0=ab=cd=x.com=u@y.com", "a.b+tag@x.com", "a/b@x.com", "a!b@x.com", "user@xn--bcher-kva.example"} {
		norm, _, err := NormalizeAddress(in)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if err := CheckLiteralAddress(norm); err != nil {
			t.Errorf("%q refused: %v", in, err)
		}
	}
}

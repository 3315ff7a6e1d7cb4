package model

import "testing"

// The memo must never change a verdict: it keys on status, bounceCat and the
// reply with only addresses and ids masked.
func TestBounceClassMemoAgrees(t *testing.T) {
	texts := []string{
		"host mx[192.0.2.1] said: 550 5.1.1 <a@example.com>: Recipient address rejected: User unknown (in reply to RCPT TO command)",
		"host mx[192.0.2.1] said: 550 5.1.1 <b@example.com>: Recipient address rejected: User unknown (in reply to RCPT TO command)",
		"550 5.7.1 Service unavailable; client [203.0.113.9] blocked using Spamhaus",
		"550-5.1.1 The email account that you tried to reach does not exist. Please try 550-5.1.1 double-checking",
		"552 1 Requested mail action aborted, mailbox not found",
		"554 delivery error: dd This user doesn't have a yahoo.com account (x@yahoo.com) [0] - mta1234.mail.bf1.yahoo.com",
		"421 4.7.0 [TSS04] Messages from 203.0.113.9 temporarily deferred",
		"Host or domain name not found. Name service error for name=example.com type=A: Host not found",
		"Host or domain name not found. Name service error for name=mx9.example.net type=A: Host not found",
	}
	for _, status := range []string{"5.1.1", "5.0.0", "5.7.1", ""} {
		for _, cat := range []string{"", "bad-mailbox", "policy-related"} {
			for _, txt := range texts {
				want := ClassSoft
				if ClassifyBounce(BounceInput{Status: status, Text: txt, BounceCat: cat, Domain: "example.com"}).Hard {
					want = ClassHard
				}
				for round := 0; round < 2; round++ { // miss, then hit
					if got := bounceClassMemo(status, txt, cat, "example.com"); got != want {
						t.Errorf("%q/%q/%q round %d: memo %v, direct %v", status, cat, txt, round, got, want)
					}
				}
			}
		}
	}
	// A name service error depends on the recipient's domain: the same
	// reply for another domain must not reuse the verdict.
	if a, b := bounceClassMemo("5.4.4", texts[7], "", "example.com"), bounceClassMemo("5.4.4", texts[7], "", "other.example"); a != ClassHard || b != ClassSoft {
		t.Errorf("name= memo: %v for its domain, %v for another", a, b)
	}
	if maskedHash(texts[0]) != maskedHash(texts[1]) {
		t.Error("replies differing only in the address must share a key")
	}
	if maskedHash(texts[0]) == maskedHash(texts[2]) {
		t.Error("different replies share a key")
	}
}

package model

import "testing"

func TestSignature(t *testing.T) {
	cases := map[string]string{
		"250 2.0.0 OK  1611221070 h17si4006834wmq.57 - gsmtp":                         "250 2.0.0 OK # # - gsmtp",
		"550 5.1.1 <multi3@bounce.example>: Recipient address rejected: User unknown": "550 5.1.1 <addr> Recipient address rejected: User unknown",
		"451 4.7.650 The mail server [203.0.113.9] has been temporarily rate limited": "451 4.7.650 The mail server # has been temporarily rate limited",
		"550 5.7.606 Access denied, banned sending IP [203.0.113.9]. S3150":           "550 5.7.606 Access denied, banned sending IP # S3150",
		"421 4.7.0 [TSS04] Messages from 203.0.113.9 temporarily deferred":            "421 4.7.0 [TSS04] Messages from # temporarily deferred",
		"  \t\x1b[2J  ": "[2J", // control bytes separate tokens
		"":              "",
	}
	for in, want := range cases {
		if got := Signature(in); got != want {
			t.Errorf("Signature(%q) = %q, want %q", in, got, want)
		}
	}
	// Same reply for two recipients: one signature.
	a := Signature("550 5.1.1 <a@x.example>: user unknown (in reply to RCPT TO command) id 123456")
	b := Signature("550 5.1.1 <b@y.example>: user unknown (in reply to RCPT TO command) id 654321")
	if a != b {
		t.Errorf("%q != %q", a, b)
	}
	long := make([]byte, 1<<20)
	for i := range long {
		long[i] = 'a'
	}
	if got := Signature(string(long)); len(got) != 120 {
		t.Errorf("len %d", len(got))
	}
}

func BenchmarkSignature(b *testing.B) {
	for i := 0; i < b.N; i++ {
		Signature("host 127.0.0.1[127.0.0.1] said: 421 4.7.0 Try again later, closing connection. (sink) (in reply to RCPT TO command)")
	}
}

func TestSignatureKeepsContinuationStatus(t *testing.T) {
	got := Signature("host gmail-smtp-in.l.google.com[142.250.102.26] said: 550-5.1.1 The email account")
	if want := "550-5.1.1 The email account"; got != want {
		t.Errorf("got %q want %q", got, want)
	}
}

// The same reply logged by Postfix, Exim and PowerMTA has one signature.
func TestSignatureUnwrapsMTAText(t *testing.T) {
	pmta := "550-5.1.1 The email account that you tried to reach does not exist. Please try 550-5.1.1 double-checking the recipient's email address"
	postfix := "host gmail-smtp-in.l.google.com[142.250.102.26] said: " + pmta + " (in reply to RCPT TO command)"
	exim := "SMTP error from remote mail server after pipelined RCPT TO:<nouser7@gmail.com>: " + pmta
	want := "550-5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email"
	for _, in := range []string{pmta, postfix, exim} {
		if got := Signature(in); got != want {
			t.Errorf("Signature(%q)\n = %q\nwant %q", in, got, want)
		}
	}
}

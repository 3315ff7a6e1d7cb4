//go:build realmta

package mtactl

import (
	"net/smtp"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/ingest/realmta/realmtatest"
	"cutover/model"
	ssup "cutover/state/suppress"
)

// rcpt opens a session and returns the reply code to RCPT TO (never DATA).
func rcpt(t *testing.T, addr, to string) int {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("test.invalid"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("sender@example.com"); err != nil {
		t.Fatal(err)
	}
	err = c.Rcpt(to)
	c.Reset()
	c.Quit()
	if err == nil {
		return 250
	}
	if te, ok := err.(*textproto.Error); ok {
		return te.Code
	}
	t.Fatal(err)
	return 0
}

// TestRealPostfixSuppress: the log's export installed through ApplyFiles
// into a running Postfix makes it refuse a suppressed recipient at RCPT TO
// and accept another; VerifySuppressions passes (set diff, postmap -q,
// RCPT TO), and fails naming the address removed from the map by hand.
func TestRealPostfixSuppress(t *testing.T) {
	requireRealMTA(t)
	base := newBase(t, "suppress")
	p := startPostfix(t, base, "new", "[127.0.0.99]:25")
	mapPath := filepath.Join(p.Conf, "cutover_suppressed")
	// the operator wires the maps in once (they must exist first)
	os.WriteFile(mapPath, nil, 0o644)
	os.WriteFile(mapPath+".regexp", nil, 0o644)
	realmtatest.Run(t, "postmap", "-c", p.Conf, "hash:"+mapPath)
	f, err := os.OpenFile(p.mainCF(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("smtpd_recipient_restrictions = check_recipient_access hash:" + mapPath + ", check_recipient_access regexp:" + mapPath + ".regexp, permit_mynetworks, reject\n")
	f.Close()
	realmtatest.Run(t, "postfix", "-c", p.Conf, "reload")

	db := openDB(t, filepath.Join(base, "cutover.db"))
	l, err := ssup.Open(db, "", ssup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var evs []model.SuppressionEvent
	for _, a := range []string{"gone@example.com", "spam@example.org", "bounced@example.net", "#hash@example.com"} {
		evs = append(evs, model.SuppressionEvent{Type: model.SuppressionType("unsubscribe"), Addr: a, Source: "test:list", Scope: "account"})
	}
	if _, err := l.Append(evs); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Postfix: &PostfixConfig{Delivery: &PostfixDelivery{PostfixInstance: PostfixInstance{ConfigDir: p.Conf, MaillogFile: p.Log}}}}, db)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t0ctx()
	res, err := c.ExportSuppressions(ctx, l, SuppressExportOptions{}, CurrentWho("test"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Result.Written != 4 || res.Result.Regexp != 1 || len(res.Entry.Reloaded) != 1 {
		t.Fatalf("export: %+v, entry %+v", res.Result, res.Entry)
	}
	// personal data: 0640 with Postfix's group (the operator's 0644 files
	// tightened; postmap carries it to the .db), and smtpd still reads them
	pgid := expectedGroup(t, "postfix", p.mainCF())
	for _, f := range []string{mapPath, mapPath + ".regexp", mapPath + ".db"} {
		if m, g := modeGroup(t, f); m != 0o640 || g != pgid {
			t.Errorf("%s: mode %04o group %d, want 0640 group %d (postfix)", f, m, g, pgid)
		}
	}
	time.Sleep(500 * time.Millisecond) // smtpd processes restart after the reload
	if code := rcpt(t, p.addr(), "Gone@Example.com"); code < 500 {
		t.Errorf("RCPT TO a suppressed address: %d, want 5xx", code)
	}
	if code := rcpt(t, p.addr(), "#hash@example.com"); code < 500 {
		t.Errorf("RCPT TO a suppressed '#' address (regexp map): %d, want 5xx", code)
	}
	if code := rcpt(t, p.addr(), "fine@example.com"); code != 250 {
		t.Errorf("RCPT TO a non-suppressed address: %d, want 250", code)
	}
	opt := SuppressVerifyOptions{SMTP: p.addr(), SMTPProbes: 4, Seed: 7}
	v, err := c.VerifySuppressions(ctx, l, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK || v.Count != 4 || v.InTarget != 4 || v.SMTPRefused != 4 || v.SMTPAccepted == 0 || v.LookupProbes != 4 {
		t.Fatalf("verify: %+v", v)
	}

	// one entry removed from the map by hand, and postmap'd
	removeEntry(t, mapPath, "spam@example.org ")
	realmtatest.Run(t, "postmap", "-c", p.Conf, "hash:"+mapPath)
	v, err = c.VerifySuppressions(ctx, l, opt)
	if err != nil {
		t.Fatal(err)
	}
	if v.OK || v.MissingCount != 1 || v.Missing[0] != "spam@example.org" || len(v.SMTPNotRefused) != 1 || !strings.HasPrefix(v.SMTPNotRefused[0], "spam@example.org") {
		t.Fatalf("verify after a hand removal: %+v", v)
	}
	if err := RecordSuppressVerification(db, v); err != nil {
		t.Fatal(err)
	}
	// a new export puts it back
	if _, err := c.ExportSuppressions(ctx, l, SuppressExportOptions{}, CurrentWho("test")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if code := rcpt(t, p.addr(), "spam@example.org"); code < 500 {
		t.Errorf("after the re-export, RCPT TO spam@example.org: %d", code)
	}
}

// TestRealEximSuppress: the log's export installed through ApplyFiles (exim
// -bV, then ${lookup} probes) into the lsearch file a real Exim's
// acl_check_rcpt denies from makes it refuse a suppressed recipient at RCPT
// TO and accept another, with no reload (Exim reads lsearch files on every
// lookup); VerifySuppressions passes (set diff, ${lookup}, RCPT TO) and
// fails naming the address removed from the file by hand.
func TestRealEximSuppress(t *testing.T) {
	requireRealMTA(t)
	base := newBase(t, "exim-suppress")
	list := filepath.Join(base, "ex", "cutover-suppressed")
	mustWrite(t, list, "") // the operator creates it: a missing lsearch file defers every RCPT
	sk := startSink(t, exOther)
	ex := startEximACL(t, base, sk.Port, "  deny    recipients = lsearch;"+list+"\n          message = recipient suppressed\n")

	db := openDB(t, filepath.Join(base, "cutover.db"))
	l, err := ssup.Open(db, "", ssup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var evs []model.SuppressionEvent
	for _, a := range []string{"gone@example.com", "spam@example.org", "a.b+tag@example.net", "#hash@example.com"} {
		evs = append(evs, model.SuppressionEvent{Type: model.SuppUnsubscribe, Addr: a, Source: "test:list", Scope: "account", Origin: "test"})
	}
	if _, err := l.Append(evs); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Exim: &EximConfig{Config: mtactlEximConf, Binary: realmtatest.EximBin, PIDFile: ex.PidFile, OldRoute: exOld}}, db)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t0ctx()
	res, err := c.ExportSuppressions(ctx, l, SuppressExportOptions{Path: list}, CurrentWho("test"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Target.Name != "exim" || res.Result.Written != 4 || res.Entry.Result != ResultOK || len(res.Entry.Reloaded) != 0 {
		t.Fatalf("export: %+v, entry %+v", res.Result, res.Entry)
	}
	if m, g := modeGroup(t, list); m != 0o640 || g != expectedGroup(t, "Debian-exim", mtactlEximConf) {
		t.Errorf("%s: mode %04o group %d, want 0640 with Exim's group", list, m, g)
	}
	for _, a := range []string{"Gone@Example.com", "a.b+tag@example.net", "#hash@example.com"} {
		if code := rcpt(t, ex.addr(), a); code < 500 {
			t.Errorf("RCPT TO suppressed %s: %d, want 5xx", a, code)
		}
	}
	for _, a := range []string{"fine@example.com", "axb+tag@example.net"} {
		if code := rcpt(t, ex.addr(), a); code != 250 {
			t.Errorf("RCPT TO non-suppressed %s: %d, want 250", a, code)
		}
	}
	opt := SuppressVerifyOptions{Path: list, SMTP: ex.addr(), SMTPProbes: 4, Seed: 7}
	v, err := c.VerifySuppressions(ctx, l, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK || v.Count != 4 || v.InTarget != 4 || v.SMTPRefused != 4 || v.SMTPAccepted == 0 || v.LookupProbes != 4 || len(v.LookupMissing) != 0 {
		t.Fatalf("verify: %+v", v)
	}

	// one entry removed from the list by hand: live at once
	removeEntry(t, list, "spam@example.org:")
	v, err = c.VerifySuppressions(ctx, l, opt)
	if err != nil {
		t.Fatal(err)
	}
	if v.OK || v.MissingCount != 1 || v.Missing[0] != "spam@example.org" || len(v.SMTPNotRefused) != 1 || !strings.HasPrefix(v.SMTPNotRefused[0], "spam@example.org") ||
		!strings.Contains(strings.Join(v.Problems, ";"), "spam@example.org") {
		t.Fatalf("verify after a hand removal: %+v", v)
	}
	// a new export puts it back
	if _, err := c.ExportSuppressions(ctx, l, SuppressExportOptions{Path: list}, CurrentWho("test")); err != nil {
		t.Fatal(err)
	}
	if code := rcpt(t, ex.addr(), "spam@example.org"); code < 500 {
		t.Errorf("after the re-export, RCPT TO spam@example.org: %d", code)
	}
}

// removeEntry deletes by hand the line of a map or list that starts with
// prefix, as an operator editing the file would; it fails if there is none.
func removeEntry(t *testing.T, path, prefix string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, prefix) {
			kept = append(kept, line)
		}
	}
	if len(kept) == len(strings.Split(string(b), "\n")) {
		t.Fatalf("%q not in %s:\n%s", prefix, path, b)
	}
	mustWrite(t, path, strings.Join(kept, "\n"))
}

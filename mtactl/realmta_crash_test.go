//go:build realmta

package mtactl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/ingest/realmta/realmtatest"
	"cutover/model"
	"cutover/state"
)

// randmapShare reads the split the front instance's main.cf holds, as
// Postfix parses it: NEW entries of all randmap entries.
func randmapShare(t *testing.T, conf string) (newN, all int) {
	t.Helper()
	v := strings.TrimSpace(realmtatest.Run(t, "postconf", "-c", conf, "-h", "sender_dependent_default_transport_maps"))
	inner := v[strings.Index(v, "{")+1 : strings.LastIndex(v, "}")]
	for _, e := range strings.Split(inner, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		all++
		if strings.HasPrefix(e, "cutover_new:") {
			newN++
		}
	}
	return newN, all
}

// Issue 13 point 4 with a real Postfix front: ratio set 30; ratio set 75
// killed after its write and before its reload (history: #2 pending); the
// next start settles #2; ratio set 50; rollback. The live front must split
// 30 % to NEW (real mail through it), as `ratio show` says; before the fix
// the rollback restored the crashed 75 % write (3 of 4 randmap entries NEW).
func TestRealPostfixRollbackAfterCrashedApply(t *testing.T) {
	requireRealMTA(t)
	t.Parallel()
	base := newBase(t, "crash")
	sk := startSink(t, pfOld, pfOther)
	hop := func(ip string) string { return fmt.Sprintf("[%s]:%d", ip, sk.Port) }
	front := startPostfix(t, base, "front", hop(pfOld))
	cfg := Config{
		Providers: map[string][]string{"gmail": {"gmail.com"}},
		Throttle:  model.ThrottlePolicy{Warm: true},
		Postfix: &PostfixConfig{Front: &PostfixFront{PostfixInstance: PostfixInstance{ConfigDir: front.Conf, MaillogFile: front.Log},
			OldNexthop: hop(pfOld), NewNexthop: hop(pfOther)}},
	}
	dbp := filepath.Join(base, "cutover.db")
	db, err := state.Open(dbp, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := c.Plan(model.Desired{}.WithRatio(30, ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(t0ctx(), ch, CurrentWho("ratio set 30"), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	after30 := fileSet(t, front.mainCF(), front.master())
	db.Close()

	// ratio set 75, killed in its reload (a wrapper around the real one
	// that stalls first)
	fk := newFake(t)
	crashCfg := cfg.clone()
	f2 := *crashCfg.Postfix.Front
	f2.Reload = fk.argv("reload", "--", "postfix", "-c", front.Conf, "reload")
	crashCfg.Postfix.Front = &f2
	waitCount(t, front.Log, "reload -- version", 1) // ratio set 30's
	reloads := countIn(t, front.Log, "reload -- version")
	crashApply(t, crashCfg, fk, dbp, 75)
	if n, all := randmapShare(t, front.Conf); n*4 != all*3 {
		t.Fatalf("the killed apply did not leave its 75%% write: %d of %d NEW", n, all)
	}

	db, err = state.Open(dbp, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err = New(cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	ent, _ := c.Entry("2")
	if ent.Result != ResultFailed || ent.Step != "interrupted" || ent.Restored != "yes" {
		t.Fatalf("#2 not settled: %+v %q", ent, c.Notices())
	}
	sameFiles(t, "after settling the crashed change", after30)
	if !waitCount(t, front.Log, "reload -- version", reloads+1) {
		t.Fatalf("the restored files were not reloaded: %d reloads logged since the crash", countIn(t, front.Log, "reload -- version")-reloads)
	}

	ch, err = c.Plan(c.Current().WithRatio(50, ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(t0ctx(), ch, CurrentWho("ratio set 50 --yes"), ApplyOptions{AcceptDrift: true}); err != nil {
		t.Fatal(err)
	}
	rb, err := c.Rollback(t0ctx(), "", CurrentWho("rollback --yes"), ApplyOptions{AcceptDrift: true})
	if err != nil {
		t.Fatal(err)
	}
	if rb.From.RatioNew != 50 || rb.To.RatioNew != 30 || c.Current().RatioNew != 30 {
		t.Fatalf("rollback %s", rb.Summary())
	}
	sameFiles(t, "after the rollback", after30)
	if n, all := randmapShare(t, front.Conf); n*10 != all*3 {
		t.Fatalf("randmap after rollback: %d of %d NEW, want 30%%", n, all)
	}
	const n = 400
	inject(t, front.addr(), "rb-", n)
	got := sk.waitTotal(t, n, 2*time.Minute)
	checkShare(t, "live front after the rollback", len(got[pfOther]), n, 0.30)
}

// Issue 13 point 5 with a real Postfix front: the operator edits main.cf
// (outside cutover's block) while the reload stalls, then the reload
// fails. cutover must not put the snapshot over the edit: main.cf keeps it,
// the conflict is reported with the diff, and Postfix is not reloaded
// again (it stays on its current config).
func TestRealPostfixFailedReloadKeepsOperatorEdit(t *testing.T) {
	requireRealMTA(t)
	t.Parallel()
	base := newBase(t, "conflict")
	sk := startSink(t, pfOld, pfOther)
	hop := func(ip string) string { return fmt.Sprintf("[%s]:%d", ip, sk.Port) }
	front := startPostfix(t, base, "front", hop(pfOld))
	fk := newFake(t)
	cfg := Config{
		Providers: map[string][]string{"gmail": {"gmail.com"}},
		Throttle:  model.ThrottlePolicy{Warm: true},
		Postfix: &PostfixConfig{Front: &PostfixFront{PostfixInstance: PostfixInstance{ConfigDir: front.Conf, MaillogFile: front.Log,
			Reload: fk.argv("reload", "--", "postfix", "-c", front.Conf, "reload")},
			OldNexthop: hop(pfOld), NewNexthop: hop(pfOther)}},
	}
	db := openDB(t, filepath.Join(base, "cutover.db"))
	c, err := New(cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	ch, _ := c.Plan(model.Desired{}.WithRatio(30, ""))
	if _, err := c.Apply(t0ctx(), ch, CurrentWho("ratio set 30"), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	fk.sleepOn(t, "reload", 2*time.Second)
	fk.failOnce(t, "reload", "postfix/postfix-script: fatal: reload timed out\n") // a second reload would be real
	os.Remove(filepath.Join(fk.dir, "calls"))
	waitCount(t, front.Log, "reload -- version", 1) // ratio set 30's
	reloads := countIn(t, front.Log, "reload -- version")
	ch, err = c.Plan(c.Current().WithRatio(50, ""))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Apply(t0ctx(), ch, CurrentWho("ratio set 50"), ApplyOptions{})
		done <- err
	}()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(strings.Join(fk.calls(t), "|"), "reload") {
		if time.Now().After(deadline) {
			t.Fatal("no reload")
		}
		time.Sleep(20 * time.Millisecond)
	}
	edited := mustRead(t, front.mainCF()) + "smtp_helo_timeout = 123s\n"
	mustWrite(t, front.mainCF(), edited)
	err = <-done
	var ae *ApplyError
	if !errors.As(err, &ae) || ae.Restored || len(ae.Conflicts) != 1 || !strings.Contains(err.Error(), "+smtp_helo_timeout = 123s") {
		t.Fatalf("err %v", err)
	}
	if mustRead(t, front.mainCF()) != edited {
		t.Fatal("the restore overwrote the operator's edit")
	}
	if v := strings.TrimSpace(realmtatest.Run(t, "postconf", "-c", front.Conf, "-h", "smtp_helo_timeout")); v != "123s" {
		t.Errorf("postconf -h smtp_helo_timeout = %q", v)
	}
	// a reload of the restored files would be logged by now (postlogd is
	// asynchronous: wait as long as the positive check above allows)
	if waitCount(t, front.Log, "reload -- version", reloads+1) {
		t.Errorf("Postfix reloaded after the failed reload; it must stay on its current config")
	}
}

// waitCount waits up to 10 s for n occurrences of substr in the maillog
// (postlogd writes it asynchronously) and reports whether they came.
func waitCount(t *testing.T, path, substr string, n int) bool {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if countIn(t, path, substr) >= n {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

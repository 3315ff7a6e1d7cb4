// Package mtactl is the one way cutover changes MTA configuration during a
// cutover: the OLD/NEW split and the NEW side's per-provider throttles, for
// Postfix, Exim, PowerMTA and the demo simulator.
//
// # Use
//
//	c, err := mtactl.New(cfg.MTACtl, db)          // db: the open state.DB
//	d := c.Current().WithRatio(30, "")             // or WithRatio(50, "google"), WithOverride("google", t)
//	ch, err := c.Plan(d)                           // throttles resolved; ch.Files[i].Diff, ch.Drift, ch.Notes
//	entry, err := c.Apply(ctx, ch, mtactl.CurrentWho("ratio set 30"), mtactl.ApplyOptions{AcceptDrift: yes})
//	ch, err = c.PlanRollback("")                   // "" = undo the last change; or an id from History
//	ch, err = c.PlanBaseline()                     // 0 % to NEW, everything back to OLD
//	hist, err := c.History()                       // oldest first; JSON-tagged
//
// Plan never writes. Apply executes exactly the previewed plan; if any managed
// file changed since Plan it returns ErrStale, and if Plan found drift it
// refuses (ErrDrift, *DriftError) unless AcceptDrift.
//
// # The transaction
//
//  1. lock: a lock file (LockFileName) in every touched driver's config
//     directory, created with O_EXCL; a second cutover process (even with
//     another database) gets a *LockedError naming pid, user, host and since.
//     Two processes on one database never get that far: state.Open holds
//     bbolt's lock and names its holder.
//  2. snapshot: the bytes, mode and owner of every managed file go into the
//     "snapshots" bucket with a "pending" entry in "audit", in one bbolt
//     transaction (a crash later leaves a visible pending entry).
//  3. write: temp file in the same directory, old mode and owner, fsync,
//     optional precheck of the temp file (exim -bV -C TEMP), rename, fsync of
//     the directory. Symlinks are followed, not replaced.
//  4. build (postmap), validate (postfix check, postconf -h of every
//     parameter cutover set, postconf -M of its services, postmap -q of every
//     map line, postconf -n warnings; exim -bV, -be of every split line, -bt
//     per provider; pmta test config), reload (postfix reload; SIGHUP to the
//     Exim daemon, or a command, only when its config changed: the split file
//     is read on every use; pmta reload).
//  5. record the audit entry (who: user, sudo user, SSH_CLIENT, host, pid,
//     command; when; from -> to; snapshot id; files with hashes; reloaded
//     drivers; result) and the applied state used for drift detection.
//
// Any failure restores the snapshot's bytes of the written files, rebuilds,
// and reloads again only the drivers whose reload had started: a config the
// checker rejected is never reloaded. Only bytes cutover wrote are taken
// back: a file someone changed after cutover's write is left as it is, with
// its driver's other files, and reported with a diff (*ConflictError); that
// MTA is not reloaded.
//
// A process that dies mid-apply leaves its entry pending. The next New on a
// writable database settles it (restore.go): files still holding the dead
// change's bytes get the snapshot back, are rebuilt and their driver
// reloaded (whether the dead process reloaded is unknown); the entry is
// closed as failed at step "interrupted" with what was found. Every snapshot
// also keeps what cutover had last confirmed live (Snapshot.Live), and a
// rollback restores cutover's part from it, so bytes that were never
// confirmed never come back under the name of the previous ratio. The *ApplyError names the driver, the
// step, the command and the checker's own output (for Postfix also the new
// fatal/warning lines of its maillog, because postfix(1) reports to stderr
// only on a terminal).
//
// # Files
//
// A driver owns whole files (its lookup or map files) or named blocks
// between "# BEGIN cutover NAME" and "# END cutover NAME" lines in the
// operator's file, and never a byte outside them. Postfix blocks are appended
// when missing; Exim and PowerMTA blocks must be placed by the operator,
// because where they sit matters (before dnslookup; inside a <virtual-mta>).
// A rollback restores the blocks from the snapshot; when the operator's lines
// are unchanged since, the file becomes byte-identical to the snapshot.
//
// # Drivers
//
// postfix-front: randmap in sender_dependent_default_transport_maps, weights
// by repetition at 1 % resolution; OLD and NEW transports in master.cf. A
// global ratio only (randmap cannot split per provider: ErrUnsupported).
//
// postfix-delivery: one smtp transport per provider in master.cf
// (smtp_connection_reuse_count_limit = messages per connection), its
// _destination_concurrency_limit and _destination_rate_delay (whole seconds,
// rounded so the rate never exceeds the throttle; per recipient domain), and
// cutover's transport map in transport_maps.
//
// exim: a manualroute router before dnslookup sends the OLD share to the OLD
// side by ${nhash_100:recipient} (sticky) or ${randint:100} against a
// per-domain lsearch file; per-provider routers and transports with
// max_parallel and connection_max_messages. Exim has no outbound rate limit:
// the hourly throttle is noted, not enforced.
//
// pmta: cold-virtual-mta in the warm VirtualMTA and max-cold-virtual-mta-msg
// N/day per provider domain (N = share x expected daily volume, from
// history or daily_volume), max-msg-rate/max-smtp-out/max-msg-per-connection
// per domain in the cold one; or a weights file for an injector. Suppression
// export writes the injector's list and, with suppress_pattern_list, a
// <pattern-list> rule file to a discard VirtualMTA (suppress_vmta), up to
// suppress_pattern_max addresses (default 100000; see suppress.go).
//
// demo: a JSON file with ingest/sim.Control's fields (DemoControl).
package mtactl

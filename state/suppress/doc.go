// Package suppress is the canonical suppression log and its bbolt index.
//
// # The log
//
// suppressions.jsonl (next to the database unless told otherwise) holds one
// model.SuppressionEvent per line, JSON with a fixed field order:
//
//	{"v":1,"seq":1,"type":"unsubscribe","addr":"a@b.com","orig":"A@B.com","ts":"2015-01-01T01:01:01Z",
//	 "recorded":"2026-11-02T10:00:00Z","source":"sparkpost:suppression_list","scope":"type:non_transactional",
//	 "reason":"...","origin":"export.json sha256:<16 hex>:17","prev":"<64 hex>"}
//
// It is append-only: a batch is written with one write and fsynced before
// anything else happens; lines are never rewritten. seq counts lines from 1
// without gaps; prev is the sha256 of the previous line's bytes (64 zeros on
// line 1), so an edited line breaks the chain at the next line and a removed
// line shows as a seq gap. The only bytes ever removed are a torn last line
// (no newline: a write cut by a crash), which Open saves to
// <log>.torn-<unixnano> and cuts off, or the bytes of a write that failed.
// The file is created 0600: it holds personal data.
//
// # Dedupe
//
// An event is a duplicate when the log already has one with the same
// (addr, type, scope, source, ts) — ts exactly, or both absent. So
// re-importing an export appends nothing; the same address unsubscribed at
// SendGrid and at Mailgun is two events (two sources) and one address in the
// index; a provider that re-suppresses an address later (a new ts) is a new
// event. reason, origin and orig are not part of the key: the same row in a
// renamed or re-downloaded file is still a duplicate.
//
// # The index (derived, rebuildable)
//
//	suppress_meta   schema; seq, off, last = the log position the index covers
//	                (seq, byte offset after that line, sha256 of that line);
//	                first = sha256 of line 1 (which log this index is of)
//	suppress_addr   addr → type mask, first/last seen, sources, scopes, and per
//	                event (type, source, scope, ts, byte offset of its line)
//	suppress_stats  distinct addresses and events in total, per type, per source
//
// Append writes the log and keeps index changes in memory; they are
// committed in one bbolt transaction every Options.IndexBatch events (and by
// Flush, Close and every query), with the new anchor. A crash between the
// two leaves the log ahead of the index; the next Open reads the lines past
// the anchor back in (checking their chain), so a rerun of the import sees
// them and appends no duplicates. If the log is shorter than the anchor, or
// the anchored line or line 1 hash differently, Open refuses
// (ErrIndexAhead, ErrIndexMismatch): lines the index had seen are gone or
// changed, and only an operator can say whether to restore the log or to
// accept it (Options.Rebuild, RebuildIndex).
//
// # Crash protocol
//
//  1. dedupe the batch against pending + index (read transaction)
//  2. write the lines, fsync the log          ← kill here: torn tail, cut on Open
//  3. update pending records in memory        ← kill here: Open catches up
//  4. every IndexBatch: one bbolt commit of records, stats and anchor
//
// # Export and verification
//
// Export writes the target file (Postfix check_recipient_access map,
// Postfix regexp table, Exim lsearch file, PowerMTA/injector list, CSV) for
// every address with a suppressing type (blocks only with IncludeBlocks),
// sorted, deterministic. ParseTarget reads such a file back as the MTA
// would; Verify(logSet, targetSet) gives missing and extra addresses.
package suppress

// Package state is cutover's bbolt database: outcome counters, file cursors,
// parser state, rejects, source summaries and an ISP cache. Other packages
// keep their own buckets through View and Update (suppression index,
// snapshots, audit).
//
// # Opening
//
//	db, err := state.Open(path, state.Options{})  // Timeout 1s, MinuteRetention 48h, HourRetention 90d
//	defer db.Close()
//
// bbolt holds an exclusive flock while the database is open (a ReadOnly open
// holds a shared one, which still keeps writers out). Open waits Timeout and
// then returns a *LockedError (errors.Is(err, ErrLocked)) naming the holder
// from <db>.owner, a JSON file (pid, user, host, command, mode, since) that
// Open writes after locking and Close removes. The lock belongs to the open
// file description, so a second Open in the same process conflicts too.
//
// Open refuses a database on NFS, SMB/CIFS, FUSE (sshfs, but also local FUSE
// such as ntfs-3g), 9p, ceph, AFS, Lustre, GPFS... (statfs f_type of the file
// or its directory, Linux only): bbolt's mmap and flock hang or corrupt there.
// The error is a *NetFSError (errors.Is(err, ErrNetFS)); with AllowNetFS the
// open proceeds and Warnings reports it. A database newer than SchemaVersion
// is refused.
//
// # Writing
//
// The ingest writer fills a Batch (AddEvent, SetCursor, AddReject,
// SetParserState, AddSourceStat) and calls Commit, which applies everything
// in ONE bbolt Update: counter deltas and the cursors that produced them
// land together or not at all, so a crash replays from the last commit with
// no loss and no double count. Commit does not change the batch: after an
// error the same batch can be retried. A Batch aggregates in memory, so each
// bucket key is written once per commit.
//
// AddEvent needs Time, Outcome, Side, MTA and ISP (Domain, SourceIP, VMTA,
// Transport, Response when known). Events with a zero Time or no Outcome are
// skipped (Batch.Skipped). Each event is added to its minute, hour and day
// buckets in the same commit: roll-up by construction, no roll-up job that
// could double count, and an hour bucket always equals the sum of its
// minutes while both are kept.
//
// # Retention
//
// Retention is relative to Newest, the newest event time committed (events
// more than 24h past the wall clock are counted but do not move it, so one
// garbage timestamp cannot expire everything), not to the wall clock: a
// backfill of old logs keeps its detail. Cutoffs are floored to the hour, so
// they move once per hour of event time; Commit checks each range with one
// cursor seek and deletes what fell behind (at most 200,000 keys per commit,
// the rest in the next ones). Buckets already behind a cutoff are not
// written at all.
//
//	counters minute   MinuteRetention (48h)
//	counters hour     HourRetention (90d)
//	counters day      forever (365 keys per side/MTA/ISP a year)
//	domains hour      MinuteRetention
//	domains day       400 days
//	reasons, via      HourRetention
//	isp_cache         per-entry TTL (wall clock), swept hourly by ISPCachePut
//
// # Layout (schema 1)
//
// Times are unix seconds, 8 bytes big-endian with the sign bit flipped, so
// that byte order is time order and a range is one cursor Seek. Days are UTC.
// Counts values are seven big-endian uint64 (Delivered, Deferred, Held,
// Bounced, HardBounce, Expired, Complaints; readers tolerate shorter or
// longer values). Strings in keys are NUL-separated (a NUL inside one is
// stored as '?').
//
//	meta       "schema" → uint32; "newest" → unix ns (int64)
//	counters   gran('m'|'h'|'d') | start | side | mta \0 isp            → Counts
//	domains    gran('h'|'d')     | start | side | mta \0 isp \0 domain  → Counts
//	reasons    hour-start | side | isp \0 signature → count(8) | last unix ns(8) | first sample (≤300 B)
//	via        hour-start | side | isp \0 dim("ip"|"vmta"|"transport") \0 value → Counts
//	cursors    Cursor.Key() (source \0 fingerprint) → Cursor JSON
//	pstate     nested bucket per source: key → value (parser state)
//	rejects    nested bucket per source: "n" → total count(8); 's' | ordinal(4) → Reject JSON (first 20)
//	sources    source → SourceStat JSON
//	isp_cache  domain → expiry unix ns(8) | provider
//
// The time comes first in reasons and via (not side/ISP) so that range
// queries and pruning are seeks; a per-ISP query filters while scanning,
// which is cheap for the hours a view shows.
//
// # Reading
//
// Stats picks the finest granularity whose buckets are all still kept from
// Since on: minute if Since ≥ Newest−MinuteRetention, hour if Since ≥
// Newest−HourRetention, else day; Since zero means day buckets over the whole
// history (by domain: hour if Since ≥ Newest−MinuteRetention, else day). A
// bucket counts when its start is in [floor(Since), Until); Until zero is
// open. Whole hours and days inside the range are read from their own
// buckets, which hold the same sums, so a 24h Stats reads ~24 keys per series
// plus the minute edges. Series uses the same granularity and returns every
// step with zeros. TopReasons and Breakdown read hour buckets.
//
// Other reads: Cursors (by source, "" = all), ParserState, Sources, Rejects
// (kept samples), RejectCount (all rejects), ISPCacheGet (an expired entry
// is a miss). Small writes outside a batch: DeleteCursor, ClearRejects,
// ISPCachePut (ttl > 0; sweeps expired entries hourly).
//
// # Errors
//
//	*LockedError   errors.Is(err, ErrLocked): lock timeout; names the holder
//	*NetFSError    errors.Is(err, ErrNetFS): refused filesystem
//	ErrReadOnly    a write on a ReadOnly database
//
// Queries run in short read transactions and return copies. bbolt blocks a
// commit that must grow the mmap while a read transaction is open, so keep
// fn in View short.
package state

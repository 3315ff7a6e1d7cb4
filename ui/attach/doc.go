// Package attach lets one process own the cutover database and others watch
// it: the owner (`cutover serve`, or a cockpit that opened the database)
// listens on a unix socket next to the database, and viewers (a second
// cockpit, `cutover status`) attach to it instead of failing on bbolt's
// lock.
//
// # Socket
//
// <db>.sock, created in a private directory and renamed into place so it is
// never reachable with looser permissions: mode 0600 (owner only), or 0660
// with the configured group. The owner also checks every peer's
// credentials (SO_PEERCRED): same uid, root, or a member of the group.
//
// # Protocol (version 1)
//
// JSON lines over the stream socket, one Frame per line:
//
//	viewer → owner  {"id":1,"op":"hello","body":{"version":1,"read_only":true,"command":"cockpit","ssh_client":"192.0.2.7 50122 22"}}
//	owner → viewer  {"id":1,"now":"…","body":{"version":1,"owner":{…},"read_only":true,"control":true,"peer":{"uid":1000,"user":"alice"}}}
//	viewer → owner  {"id":2,"op":"snapshot","body":{"window":2,"now":"…"}}
//	owner → viewer  {"id":2,"now":"…","body":{…ui.Snapshot…}}
//	owner → viewer  {"op":"changed"}                      (push: new data committed; coalesced)
//	owner → viewer  {"op":"alive"}                        (push every Welcome.heartbeat_ms)
//	owner → viewer  {"id":3,"err":"…","code":"read_only"} (a refused or failed request)
//
// hello must come first. Requests are answered in order, one at a time per
// connection; pushes may come between answers. Ops: snapshot, detail,
// sources, plan (the ui.Data and ui.PlanProvider calls), control.current,
// control.history, control.plan, control.apply, and whatever the owner
// registers with Server.Handle (cutover's "status").
//
// # Control
//
// control.plan asks the owner to plan a change (a ratio, throttles, a
// rollback, the baseline) with its mtactl Controller and returns the
// preview (diffs, drift, notes) under a one-time id; control.apply applies
// exactly that plan. The owner runs applies one at a time, as the user the
// kernel reports for the connection (SO_PEERCRED), with the SSH client the
// viewer reported, so the audit log names the person, not the owner. A
// read-only session (hello read_only) is refused both.
//
// # Failure
//
// A viewer that dies mid-frame only ends its own session: the owner drops a
// partial line, a write that fails or stalls past WriteTimeout closes that
// connection, and pushes never block the ingest writer. A Client reconnects
// with backoff when the owner goes away, or stops answering (no frame for 3
// heartbeats: a stopped process keeps its socket open); meanwhile its calls
// fail fast with ErrOwnerGone ("owner gone, reconnecting") and OwnerDown
// says since when: the cockpit shows a banner over greyed numbers and
// offers to take ownership.
package attach

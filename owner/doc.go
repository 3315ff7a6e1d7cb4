// Package owner is the running process that holds the database read-write:
// "one owner, many viewers". `cutover serve`, the cockpit and `cutover demo`
// all start the same Owner:
//
//	own, err := owner.Start(cfg, owner.Options{Command: "serve", Logger: log, SocketRequired: true})
//	defer own.Close()
//	err = own.Run(ctx, 250*time.Millisecond) // until ctx is done
//
// Start opens the database (a *state.LockedError means another process owns
// it: attach to that one instead), builds the ingest pipeline over the
// config's sources, the mtactl controller from [mtactl], the control socket
// <db>.sock with its ops (snapshots, control, status, suppression imports)
// and, with [control] metrics_listen or Options.MetricsListen, the
// Prometheus endpoint. Run follows the sources and runs the runners; Close
// stops an import in progress, the endpoint and the socket, then closes the
// pipeline and the database.
//
// # Plugging in
//
// A long-running job (the pacer, the alert evaluator, the report scheduler,
// the DNS watcher) is a Runner:
//
//	type Runner interface {
//		Name() string
//		Run(ctx context.Context, o *Owner) error
//	}
//
// given to Start in Options.Runners (or, when a config section turns it on,
// added by Run the way [bounces] adds the bounce watcher). It reads and
// writes through o.DB, o.Pipeline, o.Control and o.Data, logs with
// o.Logger(), and calls o.Notify() when viewers should reload. Run returns
// when ctx is done; an error is logged and marks the sources stale in the
// cockpit, and ingest goes on.
//
// A request that viewers or commands send over the socket is an Op in
// Options.Ops (New gets the started Owner and returns the attach.Handler),
// or is added later with (*Owner).Handle.
//
// Config loading and validation live here too (config.go: Config,
// LoadConfig, the source specs, the ISP table, OpenDB); the commands in
// package cli read the file through it. Nothing below owner imports it, and
// it never imports cli.
package owner

package mtactl

import (
	"context"
	"io/fs"

	"cutover/model"
)

// Driver renders cutover's part of one MTA's configuration and validates
// and reloads that MTA. The Controller owns everything else: reading and
// splicing files, snapshots, atomic writes, locks, restore and audit, so a
// driver cannot skip a safety step.
type Driver interface {
	// Name is used in errors, audit entries and lock files ("exim").
	Name() string
	// Files lists the managed files.
	Files() []ManagedFile
	// Render returns, per managed file path, what cutover wants there, and
	// notes for the preview (e.g. a limit the MTA cannot express exactly).
	Render(in RenderInput) (map[string]Managed, []string, error)
	// Build runs after files are written or restored (e.g. postmap).
	Build(ctx context.Context, changed []string) error
	// Validate checks the written files with the MTA's own tools.
	Validate(ctx context.Context, changed []string) error
	// Reload makes the MTA use the files; reloaded is false when the MTA
	// picks the change up by itself (an Exim lookup file).
	Reload(ctx context.Context, changed []string) (reloaded bool, err error)
	// LockDir is where the lock file goes (the MTA's config directory).
	LockDir() string
}

// Prechecker is implemented by drivers that can check a new file before it
// replaces the live one (exim -bV -C TEMP). It narrows the window in which a
// broken file is live; Validate still runs on the installed file.
type Prechecker interface {
	Precheck(ctx context.Context, path, tmp string) error
}

// ManagedFile is one file a driver manages: whole (Blocks empty) or only
// the named blocks between markers.
type ManagedFile struct {
	Path   string
	Blocks []string
	// Append allows adding the block at the end of the file when its markers
	// are missing (Postfix main.cf/master.cf, where the place does not
	// matter); otherwise the operator must place the markers.
	Append bool
	// Indent indents block content like its BEGIN marker.
	Indent bool
	// Perm is the mode of a whole file cutover creates.
	Perm fs.FileMode
	// Private files (personal data: the suppression map) always get Perm,
	// and the group GID when SetGID, even when they exist with a looser
	// mode; a mode or group that differs is a change by itself.
	Private bool
	SetGID  bool
	GID     int
	// Check looks at the operator's lines (outside the blocks) for settings
	// that would fight cutover's, e.g. a second transport_maps.
	Check func(lines []numberedLine) error
}

// Managed is what a driver wants in one file.
type Managed struct {
	Whole  []byte            // whole file content
	Blocks map[string]string // block name -> content
}

// RenderInput is everything a driver renders from.
type RenderInput struct {
	Desired   model.Desired
	Providers map[string][]string // provider -> domains, from the config
	// DailyVolume is the expected messages per day per recipient domain
	// (both sides), for count-based splits (PowerMTA cold VMTA).
	DailyVolume map[string]int
	// Pacing: the [pacing] rules for PowerMTA's native mode.
	Pacing *model.Pacing
}

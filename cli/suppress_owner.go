package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"cutover/ingest/suppress"
	"cutover/owner"
	"cutover/ui"
	"cutover/ui/attach"
)

// dialImportOwner attaches to the owner of the database at dbPath when one
// answers on its socket; nil when none does (no socket, or one left by a
// process that is gone): the import then runs here, as without an owner.
func dialImportOwner(dbPath string) *attach.Client {
	if _, err := os.Stat(attach.SocketPath(dbPath)); err != nil {
		return nil
	}
	cl, err := dialOwner(dbPath, false, "suppress import", nil)
	if err != nil {
		return nil
	}
	return cl
}

// importViaOwner is `cutover suppress import` while an owner holds the
// database: the owner imports on its log, this process shows the progress
// (polled) and prints the same summary. args are the files as given, for
// the summary. Ctrl-C cancels the owner's import; what it appended stays.
func importViaOwner(cl *attach.Client, req owner.ImportRequest, args []string, tty bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var started owner.ImportID
	if err := cl.Call(ctx, attach.OpSuppressImport, req, &started); err != nil {
		return fmt.Errorf("import through the process that holds the database: %w", err)
	}
	const again = "what was appended stays in the log, run the same import again to complete it"
	call := func(op string, resp any) error {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return cl.Call(c, op, started, resp)
	}
	tick := time.NewTicker(150 * time.Millisecond)
	defer tick.Stop()
	sig := ctx.Done()
	interrupted := false
	printed := map[int]bool{}
	last := ""
	var st owner.ImportStatus
	for {
		st = owner.ImportStatus{}
		if err := call(attach.OpSuppressImportStatus, &st); err != nil {
			if tty {
				fmt.Fprintln(os.Stderr)
			}
			return fmt.Errorf("import through the owner: %w; %s", err, again)
		}
		if tty {
			last = printOwnerProgress(st.Files, printed, last)
		}
		if st.Done {
			break
		}
		select {
		case <-sig:
			sig, interrupted = nil, true
			stop()
			if err := call(attach.OpSuppressImportCancel, nil); err != nil && !errors.Is(err, attach.ErrNotFound) {
				return fmt.Errorf("interrupted, and the owner could not be told to stop: %w", err)
			}
		case <-tick.C:
		}
	}
	var sum suppress.Summary
	if st.Summary != nil {
		sum = *st.Summary
	}
	// The owner read absolute paths; the summary names the files as given.
	for i := range sum.Files {
		if i < len(args) && i < len(req.Files) && sum.Files[i].File == req.Files[i] {
			sum.Files[i].File = args[i]
			for j := range sum.Files[i].Rejects {
				sum.Files[i].Rejects[j].File = args[i]
			}
		}
	}
	sum.WriteText(os.Stdout)
	if interrupted {
		return fmt.Errorf("interrupted; what was read is in the log, run the same import again to complete it")
	}
	if st.Err != "" {
		return errors.New(st.Err)
	}
	return nil
}

// printOwnerProgress prints the progress line `suppress import` prints for
// a local import: a finished file's last line once, then the running one's
// when it changed (last is the line printed before).
func printOwnerProgress(files []ui.ImportFile, printed map[int]bool, last string) string {
	for i := range files {
		f := &files[i]
		finished := f.State == ui.ImportDone || f.State == ui.ImportFailed || (f.State == ui.ImportCanceled && f.Rows > 0)
		switch {
		case finished && !printed[i]:
			printed[i] = true
			fmt.Fprintf(os.Stderr, "\r\x1b[K%s\n", sanitizeCell(progressOf(f).String()))
			last = ""
		case f.State == ui.ImportRunning && f.Rows > 0:
			// Like Import's callback: nothing before the first batch.
			if line := sanitizeCell(progressOf(f).String()); line != last {
				fmt.Fprintf(os.Stderr, "\r\x1b[K%s", line)
				last = line
			}
		}
	}
	return last
}

func progressOf(f *ui.ImportFile) suppress.Progress {
	return suppress.Progress{File: f.File, FileIndex: f.Index, Files: f.Files, Bytes: f.Bytes, Size: f.Size, Rows: f.Rows,
		Accepted: f.Accepted, Duplicate: f.Duplicate, Rejected: f.Rejected, Rate: f.Rate, ETA: f.ETA,
		Done: f.State != ui.ImportRunning && f.State != ui.ImportQueued}
}

// ownerImportRequest is the request for the flags `suppress import` parsed,
// with every path made absolute.
func ownerImportRequest(o suppress.ImportOptions, typ, mapping, tz, rejects, logPath string, files []string) (owner.ImportRequest, error) {
	req := owner.ImportRequest{Provider: string(o.Provider), List: o.List, Scope: o.Scope, Type: typ, Map: mapping, Source: o.Source, TZ: tz}
	abs := func(p string) (string, error) {
		if p == "" {
			return "", nil
		}
		return filepath.Abs(p)
	}
	var err error
	if req.Rejects, err = abs(rejects); err != nil {
		return req, err
	}
	if req.Log, err = abs(logPath); err != nil {
		return req, err
	}
	for _, f := range files {
		a, err := abs(f)
		if err != nil {
			return req, err
		}
		req.Files = append(req.Files, a)
	}
	return req, nil
}

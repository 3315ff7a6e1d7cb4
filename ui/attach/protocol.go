package attach

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"cutover/model"
	"cutover/mtactl"
	"cutover/ui"
)

// Version is the protocol version; hello carries it and the owner refuses
// another one, so an upgraded owner and an old viewer fail clearly.
const Version = 1

// SocketPath is where the owner of the database at dbPath listens.
func SocketPath(dbPath string) string { return dbPath + ".sock" }

// Frame is one line on the socket.
type Frame struct {
	ID   uint64          `json:"id,omitempty"` // request id, echoed by the answer; 0 = push
	Op   string          `json:"op,omitempty"` // request or push name; empty in answers
	Now  time.Time       `json:"now,omitzero"` // owner's clock when answering
	Body json.RawMessage `json:"body,omitempty"`
	Err  string          `json:"err,omitempty"`
	Code string          `json:"code,omitempty"` // machine-readable error kind (Code* constants)
}

// Ops.
const (
	OpHello          = "hello"
	OpSnapshot       = "snapshot"
	OpDetail         = "detail"
	OpSources        = "sources"
	OpPlan           = "plan"
	OpControlCurrent = "control.current"
	OpControlHistory = "control.history"
	OpControlPlan    = "control.plan"
	OpControlApply   = "control.apply"
	OpChanged        = "changed" // push
	OpAlive          = "alive"   // push: the owner's heartbeat (Welcome.HeartbeatMS)

	// Suppressions. The owner registers these with Server.Handle (cutover's
	// owner_import.go); suppress.info is what Client.SuppressionInfo asks.
	OpSuppressInfo         = "suppress.info"          // ui.SuppressionView, imports included
	OpSuppressImport       = "suppress.import"        // start an import in the owner (refused read-only)
	OpSuppressImportStatus = "suppress.import.status" // progress of an import, its summary once done
	OpSuppressImportCancel = "suppress.import.cancel" // stop it; what was appended stays
)

// Error codes in Frame.Code.
const (
	CodeReadOnly   = "read_only"
	CodeNoControl  = "no_control"
	CodeDrift      = "drift"
	CodeStale      = "stale"
	CodeLocked     = "locked"
	CodeNotFound   = "not_found"
	CodeBadRequest = "bad_request"
	CodeVersion    = "version"
	CodePermission = "permission"
)

// Errors a Client returns for the codes above (errors.Is).
var (
	ErrOwnerGone  = errors.New("owner gone, reconnecting")
	ErrReadOnly   = errors.New("read-only session: control actions are refused")
	ErrNoControl  = errors.New("the owner has no MTA control configured ([mtactl])")
	ErrNotFound   = errors.New("no such plan (already applied, expired, or from another session)")
	ErrBadRequest = errors.New("bad request")
	ErrVersion    = errors.New("protocol version mismatch")
	ErrPermission = errors.New("permission denied")
)

// RemoteError is an error the owner answered with.
type RemoteError struct {
	Code string
	Msg  string
}

func (e *RemoteError) Error() string { return e.Msg }

// Is maps codes to the package's sentinels and to mtactl's, so callers can
// test a remote failure exactly like a local one.
func (e *RemoteError) Is(target error) bool {
	switch e.Code {
	case CodeReadOnly:
		return target == ErrReadOnly
	case CodeNoControl:
		return target == ErrNoControl
	case CodeNotFound:
		return target == ErrNotFound
	case CodeBadRequest:
		return target == ErrBadRequest
	case CodeVersion:
		return target == ErrVersion
	case CodePermission:
		return target == ErrPermission
	case CodeDrift:
		return target == mtactl.ErrDrift
	case CodeStale:
		return target == mtactl.ErrStale
	case CodeLocked:
		return target == mtactl.ErrLocked
	}
	return false
}

// Hello is the viewer's first request. Everything in it is the viewer's
// word; who it runs as comes from the kernel (SO_PEERCRED), not from here.
type Hello struct {
	Version  int    `json:"version"`
	ReadOnly bool   `json:"read_only,omitempty"`
	Command  string `json:"command,omitempty"` // "cockpit", "status", ...
	// SSHClient is the viewer's $SSH_CLIENT ("ip port serverport"), or the
	// same fields from $SSH_CONNECTION: who is at the keyboard, for the audit.
	SSHClient string `json:"ssh_client,omitempty"`
	SudoUser  string `json:"sudo_user,omitempty"` // $SUDO_USER
}

// Peer is who the kernel says is on the other end of a connection.
type Peer struct {
	UID  uint32 `json:"uid"`
	GID  uint32 `json:"gid"`
	PID  int32  `json:"pid"`
	User string `json:"user"`
}

// OwnerInfo describes the owning process.
type OwnerInfo struct {
	PID     int       `json:"pid"`
	User    string    `json:"user"`
	Host    string    `json:"host"`
	Command string    `json:"command"` // "serve", "cockpit", "demo"
	Since   time.Time `json:"since"`
	DB      string    `json:"db"`
}

// Welcome answers Hello.
type Welcome struct {
	Version    int              `json:"version"`
	Owner      OwnerInfo        `json:"owner"`
	ReadOnly   bool             `json:"read_only"` // control requests will be refused
	Control    bool             `json:"control"`   // the owner has an mtactl Controller
	Peer       Peer             `json:"peer"`
	Thresholds model.Thresholds `json:"thresholds"`
	// HeartbeatMS is how often the owner pushes "alive" (0: never, an older
	// owner). A viewer that hears nothing for 3 beats treats the owner as
	// gone: a stopped or wedged owner keeps its socket open.
	HeartbeatMS int `json:"heartbeat_ms,omitempty"`
}

// SnapshotReq asks for ui.Data.Snapshot.
type SnapshotReq struct {
	Window ui.Window `json:"window"`
	Now    time.Time `json:"now"`
}

// DetailReq asks for ui.Data.Detail.
type DetailReq struct {
	ISP    string    `json:"isp"`
	Window ui.Window `json:"window"`
	Now    time.Time `json:"now"`
}

// SourcesReq asks for ui.Data.Sources.
type SourcesReq struct {
	Now time.Time `json:"now"`
}

// ControlState is what control.current returns.
type ControlState struct {
	Current   model.Desired `json:"current"`
	Steps     []int         `json:"steps"`
	Providers []string      `json:"providers"`
	Drivers   []string      `json:"drivers,omitempty"` // the owner's mtactl drivers (`ratio show`)
}

// Plan kinds for PlanReq.
const (
	PlanApply    = "apply"    // Desired as given (ratio and throttles)
	PlanBaseline = "baseline" // 0 % NEW
	PlanRollback = "rollback" // restore before change RollbackOf ("" = the last)
)

// PlanReq asks the owner to plan a change.
type PlanReq struct {
	Kind       string        `json:"kind"`
	Desired    model.Desired `json:"desired,omitzero"`
	RollbackOf string        `json:"rollback_of,omitempty"`
}

// Preview is a planned change: the exported parts of mtactl.Change, under a
// one-time id for control.apply.
type Preview struct {
	ID         string              `json:"id"`
	Action     string              `json:"action"`
	From       model.Desired       `json:"from"`
	To         model.Desired       `json:"to"`
	RollbackOf string              `json:"rollback_of,omitempty"`
	Files      []mtactl.FileChange `json:"files,omitempty"`
	Drift      []mtactl.Drift      `json:"drift,omitempty"`
	Notes      []string            `json:"notes,omitempty"`
	// Caps: what decided each throttle (mtactl.Change.Caps); absent from
	// an older owner, and the preview then names no cap.
	Caps map[string]model.Explained `json:"caps,omitempty"`
}

// ApplyReq applies the plan a Preview named.
type ApplyReq struct {
	ID          string `json:"id"`
	AcceptDrift bool   `json:"accept_drift,omitempty"`
}

// ApplyResp is the audit entry the owner recorded; Err is set when the
// apply failed after it started (the entry says what was restored).
type ApplyResp struct {
	Entry mtactl.AuditEntry `json:"entry"`
	Err   string            `json:"err,omitempty"`
	Code  string            `json:"code,omitempty"`
}

func decode(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	return nil
}

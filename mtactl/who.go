package mtactl

import (
	"os"
	"os/user"
	"strings"
)

// Who made a change: recorded in every audit entry and lock file.
type Who struct {
	User      string `json:"user"`
	SudoUser  string `json:"sudo_user,omitempty"`  // $SUDO_USER: the person behind a root shell
	SSHClient string `json:"ssh_client,omitempty"` // $SSH_CLIENT: "ip port port" of the operator's session
	Host      string `json:"host"`
	PID       int    `json:"pid"`
	Command   string `json:"command,omitempty"` // e.g. "cutover ratio set 30" or "cockpit"
}

// CurrentWho describes this process; command is what the caller was asked
// to do (free text for the audit log).
func CurrentWho(command string) Who {
	w := Who{PID: os.Getpid(), Command: command, SudoUser: os.Getenv("SUDO_USER"), SSHClient: os.Getenv("SSH_CLIENT")}
	if u, err := user.Current(); err == nil {
		w.User = u.Username
	} else {
		w.User = os.Getenv("USER")
	}
	w.Host, _ = os.Hostname()
	return w
}

// String is the short form for listings: "alice (sudo root) from 192.0.2.7".
func (w Who) String() string {
	s := w.User
	if w.SudoUser != "" && w.SudoUser != w.User {
		s = w.SudoUser + " (as " + w.User + ")"
	}
	if ip, _, _ := strings.Cut(w.SSHClient, " "); ip != "" {
		s += " from " + ip
	}
	return s
}

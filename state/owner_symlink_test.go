package state

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Issue 13 point 11: <db>.owner was written through <db>.owner.tmp<pid>
// with os.WriteFile, which follows a symlink planted at that predictable
// name and truncates its target. The temporary file is now created fresh
// (O_EXCL), so the target is untouched and the owner file is still written.
func TestOwnerTmpIgnoresPlantedSymlink(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cutover.db")
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	planted := OwnerPath(path) + ".tmp" + fmt.Sprint(os.Getpid())
	if err := os.Symlink(victim, planted); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Fatalf("symlink target rewritten: %q", b)
	}
	o, err := ReadOwner(path)
	if err != nil || o == nil || o.PID != os.Getpid() {
		t.Fatalf("owner file: %+v %v", o, err)
	}
	fi, err := os.Lstat(OwnerPath(path))
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
		t.Fatalf("owner file mode %v %v", fi.Mode(), err)
	}
	db.Close()
	if m, _ := filepath.Glob(OwnerPath(path) + ".tmp?*"); len(m) != 1 || m[0] != planted {
		t.Fatalf("temporary files left: %v", m)
	}
}

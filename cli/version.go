package cli

import (
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// version is the module version and VCS revision the binary was built
// from (debug.ReadBuildInfo): "v1.2.3", or "(devel) rev 1a2b3c4d5e6f
// 2026-12-07T21:00:00Z modified" for a build from a checkout.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (no build information)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, at string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	parts := []string{v}
	if rev != "" {
		parts = append(parts, "rev "+rev)
	}
	if at != "" {
		parts = append(parts, at)
	}
	if modified {
		parts = append(parts, "modified")
	}
	parts = append(parts, bi.GoVersion)
	return strings.Join(parts, " ")
}

func newVersionCmd(o cmdIO) *cobra.Command {
	return command("version", "the version and VCS revision of this binary", "  cutover version", noArgs,
		func(_ *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(o.out, "cutover %s\n", version())
			return err
		})
}

func newManCmd() *cobra.Command {
	c := command("man DIR", "write a man page for every command into DIR",
		"  cutover man /usr/local/share/man/man1", oneArg, writeManPages)
	c.Long = `Writes cutover.1 and one page per command (cutover-ratio-set.1 ...) into DIR,
which is created if needed.`
	return c
}

func writeManPages(cmd *cobra.Command, args []string) error {
	{
		if err := os.MkdirAll(args[0], 0o755); err != nil {
			return err
		}
		root := cmd.Root()
		root.DisableAutoGenTag = true // reproducible pages: no generation date
		hdr := &doc.GenManHeader{Title: "CUTOVER", Section: "1", Source: "cutover " + version(), Manual: "cutover manual"}
		return doc.GenManTree(root, hdr, args[0])
	}
}

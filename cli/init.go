package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"cutover/owner"
)

func newInitCmd() *cobra.Command {
	var force bool
	c := command("init [--force] [FILE]", "write a commented example config",
		"  cutover init /etc/cutover/cutover.toml", nil,
		func(_ *cobra.Command, args []string) error {
			return writeExampleConfig(append(args, "cutover.toml")[0], force)
		})
	c.Long = "Writes a commented example config to FILE (default cutover.toml; - for stdout)."
	c.Flags().BoolVar(&force, "force", false, "overwrite an existing file")
	return c
}

func writeExampleConfig(path string, force bool) error {
	if path == "-" {
		_, err := os.Stdout.Write(owner.ExampleConfig)
		return err
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		if os.IsExist(err) {
			return fmt.Errorf("%s exists; use --force to overwrite", path)
		}
		return err
	}
	if _, err := f.Write(owner.ExampleConfig); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s: edit [database] path and the [[source]] globs, then run: cutover --config %s\n", path, path)
	return nil
}

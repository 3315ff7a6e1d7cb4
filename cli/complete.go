package cli

import (
	"sort"

	"github.com/spf13/cobra"

	"cutover/mtactl"
	"cutover/owner"
)

// Dynamic shell completion: the values come from the config named on the
// command line being completed (--config), through the owner's socket when
// one answers, else from the database opened read-only.

// fixed completes one of a fixed set of words.
func fixed(vals ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return vals, cobra.ShellCompDirectiveNoFileComp
	}
}

func completeKinds(c *cobra.Command, flag string) {
	c.RegisterFlagCompletionFunc(flag, fixed(owner.Kinds...))
}

func completeSides(c *cobra.Command, flag string) {
	c.RegisterFlagCompletionFunc(flag, fixed("old", "new"))
}

// controlView is what completion reads from mtactl, locally or remotely.
type controlView interface {
	History() ([]mtactl.AuditEntry, error)
}

// withControl runs fn on the mtactl state of the config in cmd's --config:
// the owner's when one answers on the socket, else read from the database.
func withControl(cmd *cobra.Command, fn func(controlView) []string) ([]string, cobra.ShellCompDirective) {
	none := cobra.ShellCompDirectiveNoFileComp
	cfg := mtactlConfigOf(cmd)
	if cfg == nil {
		return nil, none
	}
	if cl, err := dialOwner(cfg.Database.Path, true, "completion", nil); err == nil {
		defer cl.Close()
		return fn(cl.Control()), none
	}
	db, err := openDB(cfg.Database.Path, cfg.Database.AllowNetworkFS, true)
	if err != nil {
		return nil, none
	}
	defer db.Close()
	c, err := mtactl.New(*cfg.Mtactl, db)
	if err != nil {
		return nil, none
	}
	return fn(c), none
}

// completeProviders completes the provider names of the config's
// [mtactl.providers] (read from the file: no database needed).
func completeProviders(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	cfg := mtactlConfigOf(cmd)
	if cfg == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	names := make([]string, 0, len(cfg.Mtactl.Providers))
	for p := range cfg.Mtactl.Providers {
		names = append(names, p)
	}
	sort.Strings(names)
	return names, cobra.ShellCompDirectiveNoFileComp
}

// mtactlConfigOf is the config named by the --config of the command line
// being completed, when it loads and has [mtactl]; nil otherwise.
func mtactlConfigOf(cmd *cobra.Command) *owner.Config {
	path, _ := cmd.Flags().GetString("config")
	if path == "" {
		return nil
	}
	cfg, err := owner.LoadConfig(path)
	if err != nil || cfg.Mtactl == nil {
		return nil
	}
	return cfg
}

// completeAuditIDs completes the ids of mtactl's changes, newest first,
// each with its summary as the description.
func completeAuditIDs(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	return withControl(cmd, func(c controlView) []string {
		hist, err := c.History()
		if err != nil {
			return nil
		}
		out := make([]string, 0, len(hist))
		for i := len(hist) - 1; i >= 0; i-- {
			out = append(out, hist[i].ID+"\t"+sanitizeCell(hist[i].Summary()))
		}
		return out
	})
}

// newCompletionCmd writes the shell's completion script; the script asks
// cutover itself (its hidden __complete command) for the dynamic values.
func newCompletionCmd(o cmdIO) *cobra.Command {
	shells := map[string]struct {
		how string
		gen func(root *cobra.Command) error
	}{
		"bash": {"  cutover completion bash > /etc/bash_completion.d/cutover\n" +
			"  source <(cutover completion bash)   # this shell only",
			func(r *cobra.Command) error { return r.GenBashCompletionV2(o.out, true) }},
		"zsh": {"  cutover completion zsh > \"${fpath[1]}/_cutover\"   # then start a new shell\n" +
			"  (needs compinit in ~/.zshrc: autoload -U compinit; compinit)",
			func(r *cobra.Command) error { return r.GenZshCompletion(o.out) }},
		"fish": {"  cutover completion fish > ~/.config/fish/completions/cutover.fish",
			func(r *cobra.Command) error { return r.GenFishCompletion(o.out, true) }},
	}
	var subs []*cobra.Command
	for _, name := range []string{"bash", "fish", "zsh"} {
		sh := shells[name]
		c := command(name, "the "+name+" completion script", sh.how, noArgs,
			func(cmd *cobra.Command, _ []string) error { return sh.gen(cmd.Root()) })
		c.Long = "Writes the " + name + ` completion script to stdout. Besides commands and flags it
completes provider names (--isp, throttle set ISP) and change ids (rollback
--to) from the config on the command line, source kinds and sides.`
		subs = append(subs, c)
	}
	return group(&cobra.Command{Use: "completion", Short: "shell completion scripts (bash, zsh, fish)",
		Example: "  cutover completion bash > /etc/bash_completion.d/cutover", DisableFlagsInUseLine: true,
		Annotations: map[string]string{annExit: defaultExit}}, subs...)
}

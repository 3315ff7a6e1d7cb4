// Command cutover is the cockpit for a dual-MTA email cutover: it follows
// PowerMTA, Postfix and Exim logs, counts outcomes per mailbox provider for
// the old and new MTA, and shows them side by side.
package main

import (
	"fmt"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func usage() {
	fmt.Fprint(os.Stderr, `cutover: the cockpit for a dual-MTA email cutover

usage:
  cutover demo [--headless --duration 30s] [--speed N]   simulated cutover, no config needed
  cutover [ui] --config FILE                             follow the configured sources and open the cockpit
  cutover [ui] --config FILE --read-only                 attach to the running owner's cockpit without control keys
  cutover serve --config FILE [--log-format text|json] [--metrics-listen ADDR]   headless owner (sources, database, mtactl, <db>.sock)
  cutover status [--json] [--window 1h] [--config FILE | --db FILE]   health summary; exit 0 ok, 1 warn, 2 crit, 3 unknown
  cutover init [FILE]                                    write a commented example config
  cutover backfill --db FILE --kind pmta|postfix|exim --side old|new [--mta NAME] [--side-map SPEC] PATH...
  cutover stats --db FILE --json [--by isp|domain] [--since RFC3339] [--until RFC3339]
  cutover sources --db FILE
  cutover bounces watch --db FILE (--maildir DIR | --mbox FILE | --stdin) [--once]   DSN/ARF/JMRP reports → suppression log
  cutover ratio show --config FILE                       the applied OLD/NEW split and throttles
  cutover ratio set PCT [--isp NAME] [--yes] --config FILE
  cutover throttle set ISP --rate N/h --conn N [--yes] --config FILE
  cutover rollback [--to ID] [--yes] --config FILE        undo the last change (or restore before ID)
  cutover history [--json] --config FILE                 every change mtactl made, with its result
  cutover suppress import|stats|check|export|verify|verify-log|rebuild-index ...   the suppression log ("cutover suppress help")

Run "cutover COMMAND -h" for a command's flags.
`)
}

func run(args []string) int {
	if len(args) == 0 {
		usage()
		return 2
	}
	if len(args) > 0 && (args[0] == "--config" || args[0] == "-config" || len(args[0]) > 9 && args[0][:9] == "--config=") {
		args = append([]string{"ui"}, args...)
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "demo":
		err = cmdDemo(rest)
	case "ui":
		err = cmdUI(rest)
	case "init":
		err = cmdInit(rest)
	case "backfill":
		err = cmdBackfill(rest)
	case "stats":
		err = cmdStats(rest)
	case "sources":
		err = cmdSources(rest)
	case "bounces":
		err = cmdBounces(rest)
	case "serve":
		err = cmdServe(rest)
	case "status":
		return cmdStatus(rest)
	case "ratio":
		err = cmdRatio(rest)
	case "throttle":
		err = cmdThrottle(rest)
	case "rollback":
		err = cmdRollback(rest)
	case "history":
		err = cmdHistory(rest)
	case "suppress":
		err = cmdSuppress(rest)
	case "-h", "--help", "help":
		usage()
		return 0
	default:
		usage()
		return 2
	}
	if err != nil {
		if err != errUsage {
			fmt.Fprintf(os.Stderr, "cutover %s: %v\n", cmd, err)
		}
		return exitCode(err)
	}
	return 0
}

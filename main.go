// Command cutover is the cockpit for a dual-MTA email cutover: it follows
// PowerMTA, Postfix and Exim logs, counts outcomes per mailbox provider for
// the old and new MTA, and shows them side by side. The commands live in
// package cli, the running process in package owner.
package main

import (
	"os"

	"cutover/cli"
)

func main() {
	os.Exit(cli.Execute(os.Args[1:]))
}

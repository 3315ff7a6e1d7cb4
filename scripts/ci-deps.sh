#!/usr/bin/env bash
# ci-deps.sh - packages the Go tests need besides the real MTAs (scripts/real-mta.sh):
# tmux, for the end-to-end test that drives the real binary in a terminal (e2e_tmux_test.go;
# it fails under CI=true without tmux). Debian 12, as root; idempotent.
set -euo pipefail

if command -v tmux >/dev/null; then
	echo "ci-deps: tmux already installed ($(tmux -V))" >&2
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-o Acquire::Retries=5 -o DPkg::Lock::Timeout=300)
apt-get "${APT_OPTS[@]}" update -qq || apt-get "${APT_OPTS[@]}" update -qq
apt-get "${APT_OPTS[@]}" install -y -qq --no-install-recommends tmux >/dev/null
command -v tmux >/dev/null || { echo "ci-deps: ERROR: tmux still missing after apt-get install" >&2; exit 1; }
echo "ci-deps: installed $(tmux -V)" >&2

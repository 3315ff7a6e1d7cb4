#!/usr/bin/env bash
# ci-deps.sh - packages the Go tests need besides the real MTAs (scripts/real-mta.sh):
# - tmux, for the end-to-end test that drives the real binary in a terminal (cli/e2e_tmux_test.go;
#   it fails under CI=true without tmux);
# - groff-base, which renders the pages of `cutover man` in cli/help_test.go (TestManPages fails
#   under CI=true without it);
# - OpenSSH (server and client), sshfs and procps, for the follower's test over a real sshfs
#   mount of a real sshd on 127.0.0.1 (ingest/follow/sshfs_test.go and ingest/sshfs_test.go, build tag sshfs; they fail
#   under CI=true without them);
# - knot (authoritative) + knot-dnsutils, unbound (caching resolver), python3-spf (pyspf),
#   python3-dnspython and python3-dkim for the DNS lab tests (ingest/dnsq/realdns_test.go,
#   build tag realdns; they fail under CI=true without them). policy-rc.d keeps Debian from
#   starting knot/unbound services on port 53: the tests start their own on 127.0.0.1:2231x.
# - prometheus, for promtool: owner/deploy_rules_test.go checks and unit-tests deploy/alerts.yml
#   (it fails under CI=true without it); policy-rc.d keeps the prometheus service from starting.
# Debian 12, as root; idempotent.
set -euo pipefail

# package -> a file it installs
declare -A need=(
	[tmux]=/usr/bin/tmux
	[groff-base]=/usr/bin/groff
	[openssh-server]=/usr/sbin/sshd
	[openssh-client]=/usr/bin/ssh-keygen
	[sshfs]=/usr/bin/sshfs
	[procps]=/usr/bin/pgrep
	[knot]=/usr/sbin/knotd
	[knot-dnsutils]=/usr/bin/kdig
	[unbound]=/usr/sbin/unbound
	[python3-spf]=/usr/lib/python3/dist-packages/spf.py
	[python3-dnspython]=/usr/lib/python3/dist-packages/dns/resolver.py
	[python3-dkim]=/usr/lib/python3/dist-packages/dkim/__init__.py
	[prometheus]=/usr/bin/promtool
)
missing=()
for p in "${!need[@]}"; do
	[ -e "${need[$p]}" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "ci-deps: already installed: ${!need[*]}" >&2
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-o Acquire::Retries=5 -o DPkg::Lock::Timeout=300)
apt-get "${APT_OPTS[@]}" update -qq || apt-get "${APT_OPTS[@]}" update -qq
# policy-rc.d: do not start the Debian sshd/knot/unbound services; the tests start their own.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get "${APT_OPTS[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for p in "${!need[@]}"; do
	[ -e "${need[$p]}" ] || { echo "ci-deps: ERROR: ${need[$p]} ($p) still missing after apt-get install" >&2; exit 1; }
done
echo "ci-deps: installed ${missing[*]}" >&2

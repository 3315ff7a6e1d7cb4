#!/usr/bin/env bash
# real-mta.sh - install real Postfix 3.7, pflogsumm and Exim 4.96 on Debian 12 (bookworm), as root,
# without systemd or syslog, for the realmta integration tests (ingest/realmta).
#
# usage: bash scripts/real-mta.sh install   # idempotent; fails loudly if anything is missing afterwards
#        bash scripts/real-mta.sh check     # only checks; non-zero with a list of what is missing
#        bash scripts/real-mta.sh env       # prints the paths the tests use (shell syntax)
#
# Postfix and pflogsumm are installed with apt. Exim cannot be: exim4-daemon-* and postfix both
# Provide/Conflict mail-transport-agent, so installing exim would remove postfix. Exim is therefore
# unpacked (apt-get download + dpkg -x) into $CUTOVER_REALMTA_DIR/exim-root, and what its maintainer
# scripts would have done is done here by hand: the Debian-exim user, libidn12, and a
# TRUSTED_CONFIG_LIST entry (/etc/exim4/trusted_configs) for the one config path the tests use.
# See shared/reference/real-mtas.md for why each step is needed.
set -euo pipefail

DIR=${CUTOVER_REALMTA_DIR:-/opt/cutover-realmta}
EXIM_ROOT=$DIR/exim-root
EXIM=$EXIM_ROOT/usr/sbin/exim4
EXIMSTATS=$EXIM_ROOT/usr/sbin/eximstats
EXIM_CONF=$DIR/exim.conf          # the only config path listed in trusted_configs; the tests write it
TRUSTED=/etc/exim4/trusted_configs
APT_OPTS=(-o Acquire::Retries=5 -o DPkg::Lock::Timeout=300)
APT_PKGS=(postfix pflogsumm libidn12)

say() { printf 'real-mta: %s\n' "$*" >&2; }
die() { printf 'real-mta: ERROR: %s\n' "$*" >&2; exit 1; }

pkg_installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

install_apt() {
	local missing=() p
	for p in "${APT_PKGS[@]}"; do pkg_installed "$p" || missing+=("$p"); done
	if [ ${#missing[@]} -eq 0 ]; then
		say "apt packages already installed: ${APT_PKGS[*]}"
		return 0
	fi
	export DEBIAN_FRONTEND=noninteractive
	say "apt-get update"
	apt-get "${APT_OPTS[@]}" update -qq || apt-get "${APT_OPTS[@]}" update -qq || die "apt-get update failed twice"
	# "No configuration": the postinst writes no /etc/postfix/main.cf and starts nothing we would not want
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	# postinst runs `invoke-rc.d postfix start || exit 1`; without an init system that must be refused,
	# not attempted. Add a policy-rc.d that denies everything if the image has none (Docker images do).
	local made_policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		made_policy=1
		# shellcheck disable=SC2064
		trap "rm -f /usr/sbin/policy-rc.d" EXIT
	fi
	say "apt-get install --no-install-recommends ${missing[*]}"
	local ok=
	for _ in 1 2 3; do
		if apt-get "${APT_OPTS[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
			ok=1
			break
		fi
		say "apt-get install failed; retrying in 5s"
		sleep 5
		apt-get "${APT_OPTS[@]}" update -qq || true
	done
	if [ -n "$made_policy" ]; then rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
	[ -n "$ok" ] || die "apt-get install ${missing[*]} failed 3 times"
}

install_exim() {
	if [ -x "$EXIM" ] && [ -f "$EXIMSTATS" ] && ! ldd "$EXIM" | grep -q 'not found'; then
		say "exim already unpacked in $EXIM_ROOT"
	else
		say "apt-get download exim4-daemon-light exim4-base + dpkg -x into $EXIM_ROOT"
		local debs=$DIR/debs
		rm -rf "$debs" "$EXIM_ROOT.new"
		mkdir -p "$debs"
		chown _apt: "$debs" 2>/dev/null || true # else apt warns "Download is performed unsandboxed as root"
		local ok=
		for _ in 1 2 3; do
			if (cd "$debs" && apt-get "${APT_OPTS[@]}" download -qq exim4-daemon-light exim4-base); then
				ok=1
				break
			fi
			say "apt-get download failed; retrying in 5s"
			sleep 5
			apt-get "${APT_OPTS[@]}" update -qq || true
		done
		[ -n "$ok" ] || die "apt-get download exim4-daemon-light exim4-base failed 3 times"
		local d
		for d in "$debs"/*.deb; do dpkg -x "$d" "$EXIM_ROOT.new"; done
		rm -rf "$EXIM_ROOT"
		mv "$EXIM_ROOT.new" "$EXIM_ROOT"
		rm -rf "$debs"
	fi
	# compiled-in exim user (exim4-base's postinst would create it)
	if ! getent passwd Debian-exim >/dev/null; then
		say "useradd Debian-exim"
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin Debian-exim
	fi
	# A -C config that is not in TRUSTED_CONFIG_LIST makes exim drop root on every re-exec
	# ("exim user lost privilege for using -C option" in mainlog and paniclog).
	# List and config must be root-owned and not writable by group or others.
	mkdir -p /etc/exim4 "$DIR"
	chmod 755 "$DIR"
	touch "$TRUSTED"
	chown root:root "$TRUSTED"
	chmod 644 "$TRUSTED"
	grep -qxF "$EXIM_CONF" "$TRUSTED" || echo "$EXIM_CONF" >>"$TRUSTED"
	# mtactl's real-Exim test validates and runs its own config (mtactl/realmta_test.go)
	grep -qxF "$DIR/mtactl-exim.conf" "$TRUSTED" || echo "$DIR/mtactl-exim.conf" >>"$TRUSTED"
	if [ ! -s "$EXIM_CONF" ]; then
		# a minimal valid placeholder, so that `check` can run exim -bV; the tests overwrite it
		cat >"$EXIM_CONF" <<CONF
# placeholder written by scripts/real-mta.sh; ingest/realmta tests overwrite this file
exim_path = $EXIM
spool_directory = $DIR/spool
keep_environment =
CONF
	fi
	chown root:root "$EXIM_CONF"
	chmod 644 "$EXIM_CONF"
}

check() {
	local bad=() f
	for f in /usr/sbin/postfix /usr/sbin/postconf /usr/sbin/postmap /usr/sbin/postqueue \
		/usr/lib/postfix/sbin/master /usr/lib/postfix/sbin/postlogd /usr/sbin/pflogsumm; do
		[ -x "$f" ] || bad+=("missing executable $f")
	done
	if [ -x /usr/sbin/postconf ]; then
		local v
		v=$(postconf -d -h mail_version 2>&1) || bad+=("postconf -d mail_version failed: $v")
	fi
	[ -x /usr/sbin/pflogsumm ] && ! perl -c /usr/sbin/pflogsumm >/dev/null 2>&1 &&
		bad+=("pflogsumm does not compile (perl libraries missing?): $(perl -c /usr/sbin/pflogsumm 2>&1 | head -1)")
	if [ ! -x "$EXIM" ]; then
		bad+=("missing exim binary $EXIM")
	else
		ldd "$EXIM" | grep -q 'not found' && bad+=("exim needs libraries: $(ldd "$EXIM" | grep 'not found' | tr -s ' \t\n' ' ')")
		local out
		out=$("$EXIM" -C "$EXIM_CONF" -bV 2>&1) || bad+=("exim -C $EXIM_CONF -bV failed: $(echo "$out" | head -3)")
	fi
	[ -f "$EXIMSTATS" ] || bad+=("missing $EXIMSTATS")
	[ -f "$EXIMSTATS" ] && ! perl -c "$EXIMSTATS" >/dev/null 2>&1 && bad+=("eximstats does not compile")
	getent passwd Debian-exim >/dev/null || bad+=("no user Debian-exim")
	grep -qxF "$EXIM_CONF" "$TRUSTED" 2>/dev/null || bad+=("$EXIM_CONF not listed in $TRUSTED")
	if [ ${#bad[@]} -gt 0 ]; then
		printf 'real-mta: ERROR: real MTA setup incomplete:\n' >&2
		printf 'real-mta:   - %s\n' "${bad[@]}" >&2
		printf 'real-mta: run (as root): bash scripts/real-mta.sh install\n' >&2
		return 1
	fi
	say "ok: postfix $(postconf -d -h mail_version), $("$EXIM" -C "$EXIM_CONF" -bV | sed -n 's/^Exim version \([^ ]*\).*/exim \1/p'), pflogsumm, eximstats in $DIR"
}

case "${1:-}" in
install)
	[ "$(id -u)" = 0 ] || die "install must run as root"
	install_apt
	install_exim
	check || die "install finished but the setup is incomplete (see above)"
	;;
check)
	check
	;;
env)
	printf 'CUTOVER_REALMTA_DIR=%q\nCUTOVER_EXIM=%q\nCUTOVER_EXIMSTATS=%q\nCUTOVER_EXIM_CONF=%q\n' \
		"$DIR" "$EXIM" "$EXIMSTATS" "$EXIM_CONF"
	;;
*)
	echo "usage: $0 install|check|env" >&2
	exit 2
	;;
esac

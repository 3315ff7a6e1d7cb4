#!/usr/bin/env bash
# screenshot-deps.sh - what screenshots/make.sh needs besides Go: tmux (the terminal the demo runs in),
# the DejaVu fonts (the PNG renderer draws text with DejaVu Sans Mono) and tzdata (the pictures show
# the cockpit's local clock in a fixed zone). Debian 12 package names.
#
# usage: bash scripts/screenshot-deps.sh install   # as root; idempotent
#        bash scripts/screenshot-deps.sh check     # non-zero with a list of what is missing
set -euo pipefail

APT_PKGS=(tmux fonts-dejavu-core tzdata)
FONTS=(/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf
	/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf
	/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf)

say() { printf 'screenshot-deps: %s\n' "$*" >&2; }

missing() {
	local m=() f
	command -v go >/dev/null || [ -x /usr/local/go/bin/go ] || m+=("go (https://go.dev/dl/, not from apt: go.mod wants a newer Go than Debian 12 has)")
	command -v tmux >/dev/null || m+=("tmux (apt: tmux)")
	for f in "${FONTS[@]}"; do [ -r "$f" ] || m+=("$f (apt: fonts-dejavu-core)"); done
	[ -r /usr/share/zoneinfo/Europe/Berlin ] || m+=("/usr/share/zoneinfo (apt: tzdata)")
	printf '%s\n' "${m[@]}"
}

check() {
	local m
	m=$(missing)
	if [ -n "$m" ]; then
		say "missing:"
		sed 's/^/  /' <<<"$m" >&2
		say "install with: sudo bash scripts/screenshot-deps.sh install"
		return 1
	fi
	say "ok: go, tmux, DejaVu fonts, tzdata"
}

install() {
	[ "$(id -u)" = 0 ] || { say "install needs root"; exit 1; }
	local need=() p
	for p in "${APT_PKGS[@]}"; do
		[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || need+=("$p")
	done
	if [ ${#need[@]} -gt 0 ]; then
		export DEBIAN_FRONTEND=noninteractive
		say "apt-get install ${need[*]}"
		apt-get -o Acquire::Retries=5 -o DPkg::Lock::Timeout=300 update -qq
		apt-get -o Acquire::Retries=5 -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
	fi
	check
}

case "${1:-}" in
install) install ;;
check) check ;;
*)
	echo "usage: $0 install|check" >&2
	exit 2
	;;
esac

#!/usr/bin/env bash
# scripts/deps.sh — installs the Debian packages weft needs to build, test
# and benchmark.  Idempotent: when everything is installed it only checks
# and returns at once (no apt-get update).  Needs root to install.
set -u
PACKAGES=(
	build-essential libssl-dev libsqlite3-dev libjson-c-dev clang	# build, sanitizers, fuzzing
	wireguard-tools wireguard-go		# wg, wg-quick; the reference implementation
	iperf3 iproute2 iputils-ping procps jq	# netns tests and bench (ip, ss, ping, sysctl; jq reads iperf3 -J)
	nftables stun-client			# NAT test bed; a real STUN client against weft-server
)

missing=()
for p in "${PACKAGES[@]}"; do
	[[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" == ii* ]] || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
	echo "deps: all ${#PACKAGES[@]} packages installed"
	exit 0
fi
echo "deps: installing ${missing[*]}"
if ((EUID != 0)); then
	echo "deps: not root; run: apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt_get() { apt-get -o DPkg::Lock::Timeout=300 -q "$@"; }
# --no-install-recommends: wireguard-tools recommends wireguard-dkms, which
# would build a kernel module; the userspace implementation is the point.
apt_get update </dev/null &&
	apt_get install -y --no-install-recommends "${missing[@]}" </dev/null || {
	echo "deps: apt-get install failed" >&2
	exit 1
}
echo "deps: done"

#!/usr/bin/env bash
# Installs everything owrt-ecmp's tests, lab and demo need on a fresh Debian 12 machine
# (as root): Debian packages for the lab VM and the real-SSH tests, then the npm deps.
set -euo pipefail
cd "$(dirname "$0")/.."

# Why each package: shellcheck/busybox check router-side shell under BusyBox ash; iproute2, nftables: netns tests
# (real routes, NAT and the library's pinning table);
# dropbear-bin/openssh: real SSH servers for the transport tests; qemu/mmdebstrap/e2fsprogs:
# the lab router VM (gcc builds the ISP's pppd plugin); python3: the lab's simulated OpenWrt
# tools, also tested on the host.
APT_PACKAGES=(
  shellcheck busybox iproute2 nftables
  dropbear-bin openssh-server openssh-client
  qemu-system-x86 qemu-utils mmdebstrap e2fsprogs gcc libc6-dev
  python3 ca-certificates
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) != 0 ]]; then
    echo "bootstrap: these Debian packages are missing and installing them needs root: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# ssh2's optional native speed-up is not needed; skipping install scripts keeps npm from asking
npm ci --ignore-scripts --no-audit --no-fund
npm run build

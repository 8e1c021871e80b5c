#!/bin/bash
# shellcheck disable=SC2016 # mmdebstrap hooks get the root directory as $1: single quotes
# Stage 1 of the lab image: a Debian bookworm root filesystem with every package the
# lab router needs, as a tarball. Slow (downloads ~150 MB), so lab.mjs caches it by the
# hash of this script + the package list; stage 2 (build-image.sh) is the fast part.
#
# usage: build-base.sh OUT_TAR PACKAGE...
set -euo pipefail

out=$1; shift
[ $# -gt 0 ] || { echo "build-base.sh: no packages given" >&2; exit 2; }
mirror=${LAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
pkgs=$(IFS=,; echo "$*")

# Boot through a tiny initramfs: only what it takes to mount /dev/vda (ext4 on virtio).
setup_hook='mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/usr/share/initramfs-tools/modules.d"
printf "MODULES=list\nCOMPRESS=zstd\n" > "$1/etc/initramfs-tools/conf.d/lab-vm"
printf "virtio_pci\nvirtio_blk\next4\n" > "$1/usr/share/initramfs-tools/modules.d/lab-vm"'

# Kernel modules a virtio router never loads (sound, GPUs, wireless, NIC vendors, ...):
# ~400 MB -> ~60 MB, which keeps the image build and the qcow2 small.
prune_modules='for m in "$1"/lib/modules/*; do
  k=$m/kernel
  rm -rf "$k/sound"
  find "$k/drivers" -mindepth 1 -maxdepth 1 ! -name net ! -name virtio ! -name block ! -name char ! -name tty -exec rm -rf {} +
  for d in wireless ethernet can usb wwan ieee802154 hamradio fddi arcnet plip wan; do rm -rf "$k/drivers/net/$d"; done
  find "$k/fs" -mindepth 1 -maxdepth 1 -type d ! -name ext4 ! -name jbd2 -exec rm -rf {} +
  rm -rf "$k/net/wireless" "$k/net/mac80211" "$k/net/bluetooth"
  chroot "$1" depmod -a "${m##*/}"
done'

# Documentation, manuals and locales are dead weight in a router image.
exec mmdebstrap \
  --variant=minbase --format=tar \
  --hook-dir=/usr/share/mmdebstrap/hooks/no-merged-usr \
  --include="$pkgs" \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/lib/firmware/*' \
  --setup-hook="$setup_hook" \
  --customize-hook="$prune_modules" \
  --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
  bookworm "$out" "$mirror"

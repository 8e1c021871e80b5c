#!/bin/bash
# Stage 2 of the lab image: base rootfs tarball -> OpenWrt-looking lab router image.
# Fast (no downloads). Produces in OUT: base.qcow2, vmlinuz, initrd.img, host_key.pub.
#
# usage: build-image.sh BASE_TAR ROUTER_ROOT CLIENT_PUBKEY OUT
set -euo pipefail

base_tar=$1 router_root=$2 client_pub=$3 out=$4
here=$(cd "$(dirname "$0")" && pwd)
root=$out/root

log() { echo "build-image: $*"; }
copy_tree() {  # copy_tree SRC DEST [tar options]: merge SRC over DEST, following DEST's /bin,/sbin,/lib symlinks
	local src=$1 dest=$2; shift 2
	tar -C "$src" --owner=0 --group=0 "$@" -cf - . | tar -C "$dest" --keep-directory-symlink -xf -
}

rm -rf "$root"
mkdir -p "$root"
log "unpacking base rootfs"
tar -C "$root" -xf "$base_tar"

kver=$(basename "$(ls -d "$root"/lib/modules/*)")
cp "$root/boot/vmlinuz-$kver" "$out/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$out/initrd.img"

log "compiling the ISP auth plugin against the image's pppd headers"
mkdir -p "$root/usr/lib/lab-vm/isp"
gcc -O2 -Wall -Wextra -Wno-unused-parameter -shared -fPIC -I "$root/usr/include" \
	-o "$root/usr/lib/lab-vm/isp/isp-auth.so" "$here/isp-auth.c"
rm -rf "$root/usr/include/pppd"

log "OpenWrt userland: BusyBox applets instead of Debian's tools, BusyBox ash and ip"
# Debian's init scripts mean nothing here (no sysvinit); /etc/init.d is router-root's.
rm -rf "$root"/etc/init.d/* "$root"/etc/rc?.d
mkdir -p "$root/usr/libexec"
# Not merged-/usr (like OpenWrt): /bin, /sbin, /usr/bin, /usr/sbin are separate directories.
for d in bin sbin usr/bin usr/sbin; do
	if [ -f "$root/$d/ip" ] && [ ! -L "$root/$d/ip" ]; then
		mv "$root/$d/ip" "$root/usr/libexec/ip-full"      # opkg install ip-full links /sbin/ip here
	fi
	rm -f "$root/$d/ip"
done
# Every BusyBox applet replaces Debian's command of that name, at BusyBox's own path
# (OpenWrt's shell scripts run against BusyBox: no grep -P, find -printf, sort -V,
# flock -w ...), except tools the VM itself relies on or where OpenWrt's BusyBox has
# options Debian's lacks (tar -T).
keep=" tar modprobe insmod rmmod lsmod depmod modinfo mount umount losetup blkid fdisk mke2fs
 mkswap swapon swapoff login getty su passwd chroot switch_root pivot_root run-parts ifup ifdown
 linuxrc rpm rpm2cpio udhcpd httpd telnet ftpget ftpput "
"$root/bin/busybox" --list-full | while read -r p; do
	name=${p##*/}
	case $keep in *" $name "*) continue ;; esac
	for d in bin sbin usr/bin usr/sbin; do rm -f "$root/$d/$name"; done
	ln -s /bin/busybox "$root/$p"
done
for d in bin sbin usr/bin usr/sbin; do
	rm -f "$root/$d/timeout"   # not in OpenWrt's default BusyBox (BUSYBOX_DEFAULT_TIMEOUT=n)
done
ln -sfn busybox "$root/bin/sh"            # /bin/sh = ash, as on OpenWrt
ln -sfn busybox "$root/bin/ash"
[ "$(readlink "$root/sbin/ip")" = /bin/busybox ] || { echo "/sbin/ip is not BusyBox" >&2; exit 1; }
grep -qx /bin/ash "$root/etc/shells" || echo /bin/ash >> "$root/etc/shells"
sed -i 's|^root:[^:]*:0:0:[^:]*:[^:]*:[^:]*$|root:x:0:0:root:/root:/bin/ash|' "$root/etc/passwd"
echo OpenWrt > "$root/etc/hostname"
echo "/dev/vda / ext4 rw,noatime 0 1" > "$root/etc/fstab"

# Then router-root (wins over the above), then the files the VM cannot boot without
# (they win over router-root), then defaults router-root may override.
if [ -d "$router_root" ]; then
	log "copying router-root"
	copy_tree "$router_root" "$root" --exclude=./PACKAGES --exclude='./README*'
	[ -e "$router_root/etc/inittab" ] && log "WARNING: router-root/etc/inittab is replaced by the lab VM's own"
fi
copy_tree "$here/rootfs" "$root"
( cd "$here/defaults" && find . -type f ) | while read -r f; do
	[ -e "$router_root/$f" ] || { mkdir -p "$root/$(dirname "$f")"; cp "$here/defaults/$f" "$root/$f"; }
done

log "OpenWrt's lock applet (Debian's BusyBox has none)"
gcc -O2 -Wall -Wextra -o "$root/bin/lock" "$here/lock.c"

log "kmod-macvlan: macvlan.ko kept aside until 'installed'"
ko=$(find "$root/lib/modules/$kver" -name 'macvlan.ko*' | head -n1)
[ -n "$ko" ] || { echo "macvlan module not found" >&2; exit 1; }
mkdir -p "$root/usr/lib/lab-vm/kmod/installed"
echo "${ko#"$root"}" > "$root/usr/lib/lab-vm/kmod/macvlan.path"
mv "$ko" "$root/usr/lib/lab-vm/kmod/macvlan.ko"

log "SSH: generated host key, client key authorized (also where OpenWrt's dropbear looks)"
mkdir -p "$root/etc/dropbear" "$root/root/.ssh"
rm -f "$root"/etc/dropbear/dropbear_*_host_key
dropbearkey -t ed25519 -f "$root/etc/dropbear/dropbear_ed25519_host_key" >/dev/null
dropbearkey -y -f "$root/etc/dropbear/dropbear_ed25519_host_key" | grep '^ssh-ed25519 ' | cut -d' ' -f1,2 > "$out/host_key.pub"
install -m 600 "$client_pub" "$root/root/.ssh/authorized_keys"
install -m 600 "$client_pub" "$root/etc/dropbear/authorized_keys"
chmod 700 "$root/root/.ssh"

log "ext4 image"
size_mb=$(( $(du -sm "$root" | cut -f1) + 512 ))
rm -f "$out/rootfs.raw"
mke2fs -q -t ext4 -L labroot -E root_owner=0:0 -d "$root" "$out/rootfs.raw" "${size_mb}M"
qemu-img convert -O qcow2 "$out/rootfs.raw" "$out/base.qcow2.tmp"
mv "$out/base.qcow2.tmp" "$out/base.qcow2"
rm -rf "$out/rootfs.raw" "$root"
log "done: $out/base.qcow2 (${size_mb} MB filesystem, kernel $kver)"

#!/bin/sh
# owrt-ecmp router library, installed as /usr/lib/owrt-ecmp/owrt-ecmp.sh.
#
# Rebuilds the ECMP default routes (IPv4, and IPv6 in "ecmp" mode) and the
# per-dial source rules from the live interface state in ubus. It runs on every
# hotplug event of a managed dial, so it must be idempotent and quick: netifd
# runs hotplug scripts one at a time and a slow one delays every later event.
#
# The sourcing script sets:
#   OWRT_ECMP_DIALS       "iface:k:weight ..."   managed dials; k = dial number (1..64)
#   OWRT_ECMP_METRIC      metric of the ECMP default routes (no netifd route uses it)
#   OWRT_ECMP_IPV6        off | single | ecmp
#   OWRT_ECMP_ROUTE_MODE  resilient | group | multipath
#   OWRT_ECMP_BASE        base of nexthop ids, rule priorities and table numbers
#   OWRT_ECMP_BALANCE     hash (default) | conn: new LAN connections take the dials in turn
#   OWRT_ECMP_GEN         names these settings; a rebuild does nothing unless the glue
#                         (OWRT_ECMP_GLUE, the hotplug script) exports the same

OWRT_ECMP_LOCK=${OWRT_ECMP_LOCK:-/var/lock/owrt-ecmp.lock}
OWRT_ECMP_STATE=${OWRT_ECMP_STATE:-/var/run/owrt-ecmp.state}
# the ubus dump goes through a file: one execve argument is limited to 128 KiB
# (MAX_ARG_STRLEN) and 64 dials with their _6 interfaces exceed it
OWRT_ECMP_DUMP=${OWRT_ECMP_DUMP:-/var/run/owrt-ecmp.dump}
OWRT_ECMP_BUCKETS=128
# netifd's side as the last full read saw it (see _owrt_ecmp_reuse_state)
OWRT_ECMP_IFSTATE=${OWRT_ECMP_IFSTATE:-/var/run/owrt-ecmp.ifstate}

# policy rules and connection pinning live in their own file, beside this one
OWRT_ECMP_LIBDIR=${OWRT_ECMP_LIBDIR:-/usr/lib/owrt-ecmp}
if [ -f "$OWRT_ECMP_LIBDIR/owrt-ecmp-pin.sh" ]; then
	# shellcheck source=/dev/null
	. "$OWRT_ECMP_LIBDIR/owrt-ecmp-pin.sh"
else
	logger -t owrt-ecmp -p daemon.err "$OWRT_ECMP_LIBDIR/owrt-ecmp-pin.sh is missing: run 'owrt-ecmp hotplug' from your workstation"
fi
# written by the dial monitor (health.sh): dials found silent stay out of the set
OWRT_ECMP_HEALTH=${OWRT_ECMP_HEALTH:-/var/run/owrt-ecmp.health}
# the installed settings: the glue's OWRT_ECMP_GEN names them
OWRT_ECMP_GLUE=${OWRT_ECMP_GLUE:-/etc/hotplug.d/iface/95-owrt-ecmp}

owrt_ecmp_log() {
	logger -t owrt-ecmp -p "daemon.$1" -- "$2"
}

# Which ip do we have? Full iproute2 can do multipath and nexthop objects;
# BusyBox ip (what a sysupgrade leaves behind) can only do single-path routes.
_owrt_ecmp_ip_kind() {
	if ip -V 2>/dev/null | grep -q iproute2; then
		if ip nexthop show >/dev/null 2>&1; then echo nexthop; else echo multipath; fi
	else
		echo busybox
	fi
}

# One ubus dump, one jsonfilter run: sets U_k (1/0), D_k (ppp device),
# A_k (IPv4 address) and G_k (IPv6 gateway of the <iface>_6 sub-interface).
_owrt_ecmp_read_state() {
	ubus call network.interface dump >"$OWRT_ECMP_DUMP" 2>/dev/null
	[ -s "$OWRT_ECMP_DUMP" ] || echo '{"interface":[]}' >"$OWRT_ECMP_DUMP"
	set --
	for _spec in $OWRT_ECMP_DIALS; do
		_if=${_spec%%:*}
		_rest=${_spec#*:}
		_k=${_rest%%:*}
		unset "U_$_k" "D_$_k" "A_$_k" "G_$_k" "H_$_k"
		set -- "$@" \
			-e "U_$_k=@.interface[@.interface='$_if'].up" \
			-e "D_$_k=@.interface[@.interface='$_if'].l3_device" \
			-e "A_$_k=@.interface[@.interface='$_if']['ipv4-address'][0].address"
		if [ "$OWRT_ECMP_IPV6" = ecmp ]; then
			set -- "$@" \
				-e "G_$_k=@.interface[@.interface='${_if}_6'].route[@.target='::' && @.mask=0].nexthop" \
				-e "H_$_k=@.interface[@.interface='${_if}_6'].inactive.route[@.target='::' && @.mask=0].nexthop"
		fi
	done
	[ $# -gt 0 ] || return 0
	eval "$(jsonfilter -q -i "$OWRT_ECMP_DUMP" "$@")"
	rm -f "$OWRT_ECMP_DUMP"
	_owrt_ecmp_save_state
}

# What a read found, for _owrt_ecmp_reuse_state. Written and read under the lock only,
# so no rename is needed; no fork per value (eval, not $(...)).
_owrt_ecmp_save_state() {
	{
		echo "# $OWRT_ECMP_IPV6 $OWRT_ECMP_DIALS"
		for _spec in $OWRT_ECMP_DIALS; do
			_k=${_spec#*:}
			_k=${_k%%:*}
			for _v in U D A G H; do
				eval "_x=\${${_v}_$_k:-}"
				# jsonfilter lists several IPv6 nexthops space-separated; collect takes the first
				_x=${_x%% *}
				# names, addresses and flags from netifd; anything else is not written
				case $_x in *[!0-9A-Za-z.:_-]*) continue ;; esac
				if [ -n "$_x" ]; then echo "${_v}_$_k='$_x'"; fi
			done
		done
	} >"$OWRT_ECMP_IFSTATE" 2>/dev/null || rm -f "$OWRT_ECMP_IFSTATE" # (a full disk)
}

# The dial monitor's rebuilds change only which dials are healthy. Whatever netifd changed
# since the last full read has queued a hotplug event, and that event reads ubus again
# (after this rebuild: the lock), so reusing the last read is as right as that read was,
# and spares a ubus dump and a jsonfilter run per health change. A device that vanished
# meanwhile is still skipped (_owrt_ecmp_collect checks /sys). Fails (full read then) when
# there is no earlier read for these settings or the last rebuild failed.
_owrt_ecmp_reuse_state() {
	[ -f "$OWRT_ECMP_STATE" ] && [ -f "$OWRT_ECMP_IFSTATE" ] || return 1
	read -r _line <"$OWRT_ECMP_IFSTATE"
	[ "$_line" = "# $OWRT_ECMP_IPV6 $OWRT_ECMP_DIALS" ] || return 1
	for _spec in $OWRT_ECMP_DIALS; do
		_k=${_spec#*:}
		_k=${_k%%:*}
		unset "U_$_k" "D_$_k" "A_$_k" "G_$_k" "H_$_k"
	done
	# shellcheck source=/dev/null
	. "$OWRT_ECMP_IFSTATE"
}

# Lists of usable members, "dev:k:weight[:extra]" each.
_owrt_ecmp_collect() {
	UP4=""
	UP6=""
	RULES=""
	for _spec in $OWRT_ECMP_DIALS; do
		_rest=${_spec#*:}
		_k=${_rest%%:*}
		_w=${_rest#*:}
		# one eval, no $(...): a fork per value adds up on a router with many dials
		_up="" _gwi=""
		eval "_up=\${U_$_k:-} _dev=\${D_$_k:-} _addr=\${A_$_k:-} _gw=\${G_$_k:-} _gwi=\${H_$_k:-}"
		[ "$_up" = 1 ] || continue
		case $_owrt_ecmp_sick in *" ${_spec%%:*} "*) continue ;; esac
		# netifd says up, but the ppp device must exist or the kernel refuses the nexthop
		if [ -z "$_dev" ] || [ ! -d "/sys/class/net/$_dev" ]; then continue; fi
		UP4="$UP4 $_dev:$_k:$_w"
		[ -n "$_addr" ] && RULES="$RULES $_dev:$_k:$_addr"
		if [ "$OWRT_ECMP_IPV6" = ecmp ]; then
			[ -n "$_gw" ] || _gw=$_gwi
			_gw=${_gw%% *}
			[ -n "$_gw" ] && UP6="$UP6 $_dev:$_k:$_w:$_gw"
		fi
	done
}

# Interfaces the monitor marked unhealthy (" a b "), then the usable members. When
# every up dial is silent, none is left out: an ECMP route over silent dials is no
# worse than none, and a probe target that stopped answering must not cut everything.
_owrt_ecmp_collect_healthy() {
	_owrt_ecmp_sick=" "
	if [ -f "$OWRT_ECMP_HEALTH" ]; then
		# read in this shell: the monitor rebuilds on every transition and a fork costs
		while read -r _a _b _; do
			[ "$_b" = unhealthy ] && _owrt_ecmp_sick="$_owrt_ecmp_sick$_a "
		done 2>/dev/null <"$OWRT_ECMP_HEALTH"
	fi
	_owrt_ecmp_collect
	[ -z "$UP4" ] && [ "$_owrt_ecmp_sick" != " " ] && _owrt_ecmp_sick=" " && _owrt_ecmp_collect
	return 0
}

_owrt_ecmp_count() {
	_n=0
	for _x in $1; do _n=$((_n + 1)); done
	echo "$_n"
}

# "dev:k:..." members → their devices, sorted, one line
_owrt_ecmp_devs_of() {
	for _m in $1; do echo "${_m%%:*}"; done | sort | tr '\n' ' '
}

# Devices of the live nexthops of the ECMP route in table BASE, sorted, one line.
# A nexthop group is printed expanded, so this sees what the kernel really uses.
_owrt_ecmp_route_devs() {
	ip "$1" route show default table "$OWRT_ECMP_BASE" metric "$OWRT_ECMP_METRIC" 2>/dev/null |
		grep -v -e dead -e linkdown | sed -n 's/.* dev \([^ ]*\).*/\1/p' | sort | tr '\n' ' '
}

# $1 = -4|-6, $2 = member list, $3 = nexthop id base, $4 = ip kind.
# The ECMP route lives in table BASE, reached by rule BASE+200: netifd never
# touches that table, and wan's own metric stays as it was.
_owrt_ecmp_install() {
	_fam=$1
	_members=$2
	_base=$3
	_kind=$4
	_irc=0
	set -- metric "$OWRT_ECMP_METRIC" table "$OWRT_ECMP_BASE"
	# earlier versions put the ECMP route into main at this metric (upgrade path; after
	# the route, so a change is not held up by a command that finds nothing to delete)
	_owrt_ecmp_install_set "$@" || _irc=1
	while ip "$_fam" route del default metric "$OWRT_ECMP_METRIC" 2>/dev/null; do :; done
	return $_irc
}

_owrt_ecmp_install_set() {
	if [ -z "$_members" ]; then
		while ip "$_fam" route del default "$@" 2>/dev/null; do :; done
		[ "$_kind" = nexthop ] && ip nexthop del id "$_base" 2>/dev/null
		_owrt_ecmp_drop_members "$_base" ""
		return 0
	fi
	_mode=$OWRT_ECMP_ROUTE_MODE
	[ "$_kind" = nexthop ] || _mode=multipath
	# BusyBox ip (after a sysupgrade) has neither multipath nor policy rules: netifd's
	# own default routes in main (wan's metric first) keep one dial routable meanwhile
	[ "$_kind" = busybox ] && return 0
	case $_mode in
	resilient | group) _owrt_ecmp_install_group "$_fam" "$_members" "$_base" "$_mode" "$@" ;;
	*) _owrt_ecmp_install_multipath "$_fam" "$_members" "$@" ;;
	esac
}

# $1 fam, $2 members, $3 nexthop id base, $4 mode, $5.. route selector
_owrt_ecmp_install_group() {
	_fam=$1
	_members=$2
	_base=$3
	_mode=$4
	shift 4
	_group=""
	_ids=""
	_batch=""
	for _m in $_members; do
		_dev=${_m%%:*}
		_r=${_m#*:}
		_k=${_r%%:*}
		_r=${_r#*:}
		_w=${_r%%:*}
		_id=$((_base + _k))
		# one line per member below: nothing but a name or an address may pass
		case "$_dev" in "" | *[!0-9A-Za-z.:_-]*) return 1 ;; esac
		case "${_r#*:}" in *[!0-9A-Za-z.:_-]*) return 1 ;; esac
		if [ "$_fam" = -6 ]; then
			_batch="${_batch}nexthop replace id $_id via ${_r#*:} dev $_dev
"
		else
			_batch="${_batch}nexthop replace id $_id dev $_dev
"
		fi
		_group="$_group${_group:+/}$_id,$_w"
		_ids="$_ids $_id"
	done
	# the members in one ip run, not one each (a fork and exec per dial add up on the
	# monitor's path); a group takes no family, so it and the route stay separate runs
	printf '%s' "$_batch" | ip "$_fam" -batch - || return 1
	_type=""
	[ "$_mode" = resilient ] && _type="type resilient buckets $OWRT_ECMP_BUCKETS"
	# a group cannot change type in place (mode switched): recreate it
	# shellcheck disable=SC2086 # _type is several words on purpose
	ip nexthop replace id "$_base" group "$_group" $_type 2>/dev/null ||
		{ ip nexthop del id "$_base" 2>/dev/null; ip nexthop add id "$_base" group "$_group" $_type; } || return 1
	ip "$_fam" route replace default nhid "$_base" "$@" || return 1
	_owrt_ecmp_drop_members "$_base" "$_ids"
}

# $1 fam, $2 members, $3.. route selector
_owrt_ecmp_install_multipath() {
	_fam=$1
	_members=$2
	shift 2
	for _m in $_members; do
		_dev=${_m%%:*}
		_r=${_m#*:}
		_r=${_r#*:}
		_w=${_r%%:*}
		if [ "$_fam" = -6 ]; then
			set -- "$@" nexthop via "${_r#*:}" dev "$_dev" weight "$_w"
		else
			set -- "$@" nexthop dev "$_dev" weight "$_w"
		fi
	done
	ip "$_fam" route replace default "$@"
}

# Delete member nexthop objects (ids base+1..base+64) not in $2.
_owrt_ecmp_drop_members() {
	command -v ip >/dev/null || return 0
	for _id in $(ip nexthop show 2>/dev/null | sed -n 's/^id \([0-9]*\) .*/\1/p'); do
		if [ "$_id" -le "$1" ] || [ "$_id" -gt $(($1 + 64)) ]; then continue; fi
		case " $2 " in *" $_id "*) continue ;; esac
		ip nexthop del id "$_id" 2>/dev/null
	done
}

# Does the kernel hold exactly what the last rebuild wrote? A dial that redials
# with the same address and device lost its nexthop object with the old device
# (the kernel deletes nexthops and routes on a device that goes away), and netifd
# may merge or reorder events: the state file alone cannot tell.
_owrt_ecmp_kernel_ok() {
	[ "$1" = busybox ] && return 0
	[ "$(_owrt_ecmp_route_devs -4)" = "$(_owrt_ecmp_devs_of "$UP4")" ] || return 1
	if [ "$OWRT_ECMP_IPV6" = ecmp ]; then
		[ "$(_owrt_ecmp_route_devs -6)" = "$(_owrt_ecmp_devs_of "$UP6")" ] || return 1
	fi
	_owrt_ecmp_policy_ok
}

# Are the settings this shell carries still the installed ones? An event that waited in
# netifd's queue (or for the lock) while an apply or a rollback replaced or removed them
# must not build the old set back; whoever replaced them rebuilt with the new. A glue
# from before OWRT_ECMP_GEN existed names none: nothing to compare, as before.
_owrt_ecmp_settings_current() {
	[ -n "${OWRT_ECMP_GEN:-}" ] || return 0
	grep -qx "export OWRT_ECMP_GEN='*$OWRT_ECMP_GEN'*" "$OWRT_ECMP_GLUE" 2>/dev/null
}

# Rebuild routes and rules; $1 says why (for the log); $2 = reuse: the dial monitor's
# health change, netifd's state as last read (_owrt_ecmp_reuse_state).
owrt_ecmp_rebuild() {
	_why=$1
	lock "$OWRT_ECMP_LOCK"
	if ! _owrt_ecmp_settings_current; then
		lock -u "$OWRT_ECMP_LOCK"
		owrt_ecmp_log info "not rebuilt ($_why): its settings are no longer the installed ones"
		return 0
	fi
	if [ "${2:-}" != reuse ] || ! _owrt_ecmp_reuse_state; then _owrt_ecmp_read_state; fi
	_owrt_ecmp_collect_healthy
	_kind=$(_owrt_ecmp_ip_kind)
	_sig="$_kind|$OWRT_ECMP_ROUTE_MODE|$OWRT_ECMP_METRIC|4:$UP4|6:$UP6|r:$RULES|b:${OWRT_ECMP_BALANCE:-hash}"
	_old=""
	[ -f "$OWRT_ECMP_STATE" ] && read -r _old 2>/dev/null <"$OWRT_ECMP_STATE"
	if [ "$_sig" = "$_old" ] && _owrt_ecmp_kernel_ok "$_kind"; then
		lock -u "$OWRT_ECMP_LOCK"
		return 0
	fi
	_rc=0
	_owrt_ecmp_install -4 "$UP4" "$OWRT_ECMP_BASE" "$_kind" || _rc=1
	if [ "$OWRT_ECMP_IPV6" = ecmp ]; then
		_owrt_ecmp_install -6 "$UP6" $((OWRT_ECMP_BASE + 100)) "$_kind" || _rc=1
	fi
	# the pin map before the rules: rule BASE+200 must never see a pinned connection first
	if [ "$_kind" != busybox ]; then _owrt_ecmp_nft || _rc=1; fi
	_owrt_ecmp_rules "$_kind"
	if [ $_rc = 0 ]; then
		echo "$_sig" >"$OWRT_ECMP_STATE"
	else
		rm -f "$OWRT_ECMP_STATE"
	fi
	lock -u "$OWRT_ECMP_LOCK"
	owrt_ecmp_log info "rebuilt ($_why): ipv4 $(_owrt_ecmp_count "$UP4") nexthop(s), ipv6 $(_owrt_ecmp_count "$UP6") nexthop(s), mode $OWRT_ECMP_ROUTE_MODE/$_kind, rc $_rc"
	[ "$_kind" = busybox ] && [ -n "$UP4" ] &&
		owrt_ecmp_log warn "BusyBox ip cannot do multipath: only one dial carries traffic; run 'owrt-ecmp hotplug --install-packages'"
	return $_rc
}

# Entry point for /etc/hotplug.d/iface. Re-reads state instead of trusting
# ACTION: by the time a queued event runs, the interface may have changed again.
owrt_ecmp_hotplug() {
	case "$ACTION" in
	ifup | ifdown | ifupdate | ifup-failed) ;;
	*) return 0 ;; # mwan3's connected/disconnected and the like
	esac
	_if=$INTERFACE
	# <iface>_6 (DHCPv6 on the dial) only matters for the IPv6 ECMP route: skipping it
	# otherwise spares netifd's serial event queue a ubus dump per dial event
	case $_if in
	*_6) [ "$OWRT_ECMP_IPV6" = ecmp ] || return 0; _if=${_if%_6} ;;
	esac
	for _spec in $OWRT_ECMP_DIALS; do
		if [ "$_if" = "${_spec%%:*}" ]; then
			owrt_ecmp_rebuild "$ACTION $INTERFACE"
			return
		fi
	done
	return 0
}

# Remove everything the library ever installed (teardown).
owrt_ecmp_flush() {
	lock "$OWRT_ECMP_LOCK"
	RULES=""
	UP4=""
	UP6=""
	_kind=$(_owrt_ecmp_ip_kind)
	for _fam in -4 -6; do
		while ip "$_fam" route del default metric "$OWRT_ECMP_METRIC" table main 2>/dev/null; do :; done
		ip "$_fam" route flush table "$OWRT_ECMP_BASE" 2>/dev/null
	done
	if [ "$_kind" = nexthop ]; then
		ip nexthop del id "$OWRT_ECMP_BASE" 2>/dev/null
		ip nexthop del id $((OWRT_ECMP_BASE + 100)) 2>/dev/null
		_owrt_ecmp_drop_members "$OWRT_ECMP_BASE" ""
		_owrt_ecmp_drop_members $((OWRT_ECMP_BASE + 100)) ""
	fi
	_owrt_ecmp_rules_clear
	_owrt_ecmp_have_nft && nft delete table inet "$OWRT_ECMP_NFT_TABLE" 2>/dev/null
	rm -f "$OWRT_ECMP_STATE" "$OWRT_ECMP_IFSTATE"
	lock -u "$OWRT_ECMP_LOCK"
}

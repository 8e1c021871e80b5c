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

OWRT_ECMP_LOCK=${OWRT_ECMP_LOCK:-/var/lock/owrt-ecmp.lock}
OWRT_ECMP_STATE=${OWRT_ECMP_STATE:-/var/run/owrt-ecmp.state}
# the ubus dump goes through a file: one execve argument is limited to 128 KiB
# (MAX_ARG_STRLEN) and 64 dials with their _6 interfaces exceed it
OWRT_ECMP_DUMP=${OWRT_ECMP_DUMP:-/var/run/owrt-ecmp.dump}
OWRT_ECMP_BUCKETS=128
# fwmark bits that pin a connection to dial k (mark k << 24). mwan3 uses 0x3F00,
# pbr and Tailscale 0xFF0000, SQM/qosify and most scripts the low byte.
OWRT_ECMP_MARK_MASK=0x7f000000
OWRT_ECMP_MARK_KEEP=0x80ffffff
OWRT_ECMP_NFT_TABLE=owrt_ecmp
# written by the dial monitor (health.sh): dials found silent stay out of the set
OWRT_ECMP_HEALTH=${OWRT_ECMP_HEALTH:-/var/run/owrt-ecmp.health}

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
}

_owrt_ecmp_var() {
	eval "printf '%s' \"\${$1:-}\""
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
		[ "$(_owrt_ecmp_var "U_$_k")" = 1 ] || continue
		case $_owrt_ecmp_sick in *" ${_spec%%:*} "*) continue ;; esac
		_dev=$(_owrt_ecmp_var "D_$_k")
		# netifd says up, but the ppp device must exist or the kernel refuses the nexthop
		if [ -z "$_dev" ] || [ ! -d "/sys/class/net/$_dev" ]; then continue; fi
		UP4="$UP4 $_dev:$_k:$_w"
		_addr=$(_owrt_ecmp_var "A_$_k")
		[ -n "$_addr" ] && RULES="$RULES $_dev:$_k:$_addr"
		if [ "$OWRT_ECMP_IPV6" = ecmp ]; then
			_gw=$(_owrt_ecmp_var "G_$_k")
			[ -n "$_gw" ] || _gw=$(_owrt_ecmp_var "H_$_k")
			_gw=${_gw%% *}
			[ -n "$_gw" ] && UP6="$UP6 $_dev:$_k:$_w:$_gw"
		fi
	done
}

# Interfaces the monitor marked unhealthy (" a b "), then the usable members. When
# every up dial is silent, none is left out: an ECMP route over silent dials is no
# worse than none, and a probe target that stopped answering must not cut everything.
_owrt_ecmp_collect_healthy() {
	_owrt_ecmp_sick=" $(awk '$2 == "unhealthy" { printf "%s ", $1 }' "$OWRT_ECMP_HEALTH" 2>/dev/null)"
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
	set -- metric "$OWRT_ECMP_METRIC" table "$OWRT_ECMP_BASE"
	# earlier versions put the ECMP route into main at this metric (upgrade path)
	while ip "$_fam" route del default metric "$OWRT_ECMP_METRIC" 2>/dev/null; do :; done
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
	for _m in $_members; do
		_dev=${_m%%:*}
		_r=${_m#*:}
		_k=${_r%%:*}
		_r=${_r#*:}
		_w=${_r%%:*}
		_id=$((_base + _k))
		if [ "$_fam" = -6 ]; then
			ip -6 nexthop replace id "$_id" via "${_r#*:}" dev "$_dev" || return 1
		else
			ip -4 nexthop replace id "$_id" dev "$_dev" || return 1
		fi
		_group="$_group${_group:+/}$_id,$_w"
		_ids="$_ids $_id"
	done
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

_owrt_ecmp_mark() {
	printf '0x%x' $(($1 << 24))
}

_owrt_ecmp_have_nft() {
	command -v nft >/dev/null 2>&1
}

# The rules the library owns, one per line, normalised as "pref from fwmark table"
# (what _owrt_ecmp_rules_now prints for the kernel's rules). $1 = -4|-6
_owrt_ecmp_rules_wanted() {
	_b=$OWRT_ECMP_BASE
	if [ "$1" = -6 ]; then
		[ "$OWRT_ECMP_IPV6" = ecmp ] && [ -n "$UP6" ] && printf '%s all - main\n%s all - %s\n' "$_b" $((_b + 200)) "$_b"
		return 0
	fi
	[ -n "$RULES" ] || return 0
	printf '%s all - main\n' "$_b"
	for _r in $RULES; do
		_x=${_r#*:}
		_k=${_x%%:*}
		printf '%s %s - %s\n' $((_b + _k)) "${_x#*:}" $((_b + _k))
		_owrt_ecmp_have_nft &&
			printf '%s all %s/%s %s\n' $((_b + 100 + _k)) "$(_owrt_ecmp_mark "$_k")" "$OWRT_ECMP_MARK_MASK" $((_b + _k))
	done
	[ -n "$UP4" ] && printf '%s all - %s\n' $((_b + 200)) "$_b"
	return 0
}

_owrt_ecmp_rules_now() {
	ip "$1" rule show 2>/dev/null | awk '{
		p = $1; sub(/:$/, "", p); m = "-"; t = ""
		for (i = 2; i < NF; i++) { if ($i == "fwmark") m = $(i + 1); if ($i == "lookup") t = $(i + 1) }
		print p, $3, m, t
	}'
}

# Remove every rule the library may have added, and nothing else: a rule is
# matched by priority AND table (mwan3 and pbr keep rules at 1000+, 2000+, 3000+).
_owrt_ecmp_rules_clear() {
	_b=$OWRT_ECMP_BASE
	for _fam in -4 -6; do
		for _spec in $OWRT_ECMP_DIALS; do
			_rest=${_spec#*:}
			_k=${_rest%%:*}
			while ip "$_fam" rule del priority $((_b + _k)) table $((_b + _k)) 2>/dev/null; do :; done
			while ip "$_fam" rule del priority $((_b + 100 + _k)) table $((_b + _k)) 2>/dev/null; do :; done
			ip "$_fam" route flush table $((_b + _k)) 2>/dev/null
		done
		while ip "$_fam" rule del priority "$_b" table main suppress_prefixlength 0 2>/dev/null; do :; done
		while ip "$_fam" rule del priority $((_b + 200)) table "$_b" 2>/dev/null; do :; done
	done
}

# Policy rules: pref BASE keeps non-default main routes (LAN, peers) first;
# BASE+k answers from dial k's address through dial k (router-local sockets);
# BASE+100+k sends packets marked for dial k (see _owrt_ecmp_nft) through it;
# BASE+200 is everything else: the ECMP table.
_owrt_ecmp_rules() {
	_kind=$1
	_owrt_ecmp_rules_clear
	[ "$_kind" = busybox ] && return 0
	_b=$OWRT_ECMP_BASE
	if [ -n "$RULES" ]; then
		ip -4 rule add priority "$_b" lookup main suppress_prefixlength 0
		for _r in $RULES; do
			_dev=${_r%%:*}
			_x=${_r#*:}
			_k=${_x%%:*}
			ip -4 route replace default dev "$_dev" table $((_b + _k)) || continue
			ip -4 rule add priority $((_b + _k)) from "${_x#*:}" lookup $((_b + _k))
			_owrt_ecmp_have_nft &&
				ip -4 rule add priority $((_b + 100 + _k)) fwmark "$(_owrt_ecmp_mark "$_k")/$OWRT_ECMP_MARK_MASK" lookup $((_b + _k))
		done
		[ -n "$UP4" ] && ip -4 rule add priority $((_b + 200)) lookup "$_b"
	fi
	if [ "$OWRT_ECMP_IPV6" = ecmp ] && [ -n "$UP6" ]; then
		# source-specific defaults from odhcp6c in main are suppressed too: LAN
		# traffic balances over the ECMP table and masq6 translates it
		ip -6 rule add priority "$_b" lookup main suppress_prefixlength 0
		ip -6 rule add priority $((_b + 200)) lookup "$_b"
	fi
	return 0
}

# Pin connections to the dial that owns their public address, statelessly:
# a DNAT'ed port forward's original destination, or a masqueraded connection's
# reply destination, is dial k's address → mark k → rule BASE+100+k → dial k.
# The LAN reply of a port forward is routed before NAT restores the public
# source, so "from" rules cannot see it. Own table: fw4 reloads only touch
# table inet fw4. One nft transaction replaces the whole table.
_owrt_ecmp_nft() {
	_owrt_ecmp_have_nft || return 0
	_t=$OWRT_ECMP_NFT_TABLE
	{
		printf 'add table inet %s\ndelete table inet %s\n' "$_t" "$_t"
		[ -n "$RULES" ] && _owrt_ecmp_nft_table "$_t"
	} >"$OWRT_ECMP_DUMP.nft"
	nft -f "$OWRT_ECMP_DUMP.nft"
	_rc=$?
	rm -f "$OWRT_ECMP_DUMP.nft"
	return $_rc
}

_owrt_ecmp_nft_table() {
	printf 'table inet %s {\n\tmap dial4 {\n\t\ttype ipv4_addr : verdict\n' "$1"
	_seen=" "
	_el=""
	for _r in $RULES; do
		_x=${_r#*:}
		case $_seen in *" ${_x#*:} "*) continue ;; esac
		_seen="$_seen${_x#*:} "
		_el="$_el${_el:+, }${_x#*:} : goto dial${_x%%:*}"
	done
	printf '\t\telements = { %s }\n\t}\n' "$_el"
	for _r in $RULES; do
		_x=${_r#*:}
		_k=${_x%%:*}
		# keep every other mark bit (verdict map + constant mask: no kernel 6.x bitwise needed)
		printf '\tchain dial%s {\n\t\tmeta mark set meta mark & %s | %s\n\t}\n' \
			"$_k" "$OWRT_ECMP_MARK_KEEP" "$(_owrt_ecmp_mark "$_k")"
	done
	printf '\tchain prerouting {\n\t\ttype filter hook prerouting priority mangle; policy accept;\n'
	printf '\t\tct original ip daddr vmap @dial4\n\t\tct reply ip daddr vmap @dial4\n\t}\n}\n'
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
	for _fam in -4 -6; do
		_owrt_ecmp_rules_now "$_fam" >"$OWRT_ECMP_DUMP.rules"
		_miss=$(_owrt_ecmp_rules_wanted "$_fam" | grep -vxF -f "$OWRT_ECMP_DUMP.rules")
		rm -f "$OWRT_ECMP_DUMP.rules"
		[ -z "$_miss" ] || return 1
	done
	[ -n "$RULES" ] && _owrt_ecmp_have_nft || return 0
	_map=" $(nft list map inet "$OWRT_ECMP_NFT_TABLE" dial4 2>/dev/null | tr -s ' \t\n,{}' '     ') "
	for _r in $RULES; do
		_x=${_r#*:}
		case $_map in *" ${_x#*:} : goto dial${_x%%:*} "*) ;; *) return 1 ;; esac
	done
	return 0
}

# Rebuild routes and rules; $1 says why (for the log).
owrt_ecmp_rebuild() {
	_why=$1
	lock "$OWRT_ECMP_LOCK"
	_owrt_ecmp_read_state
	_owrt_ecmp_collect_healthy
	_kind=$(_owrt_ecmp_ip_kind)
	_sig="$_kind|$OWRT_ECMP_ROUTE_MODE|$OWRT_ECMP_METRIC|4:$UP4|6:$UP6|r:$RULES"
	if [ "$_sig" = "$(cat "$OWRT_ECMP_STATE" 2>/dev/null)" ] && _owrt_ecmp_kernel_ok "$_kind"; then
		lock -u "$OWRT_ECMP_LOCK"
		return 0
	fi
	_rc=0
	_owrt_ecmp_install -4 "$UP4" "$OWRT_ECMP_BASE" "$_kind" || _rc=1
	if [ "$OWRT_ECMP_IPV6" = ecmp ]; then
		_owrt_ecmp_install -6 "$UP6" $((OWRT_ECMP_BASE + 100)) "$_kind" || _rc=1
	fi
	_owrt_ecmp_rules "$_kind"
	if [ "$_kind" != busybox ]; then _owrt_ecmp_nft || _rc=1; fi
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
	rm -f "$OWRT_ECMP_STATE"
	lock -u "$OWRT_ECMP_LOCK"
}

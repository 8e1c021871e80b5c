#!/bin/sh
# owrt-ecmp policy rules and connection pinning, installed as
# /usr/lib/owrt-ecmp/owrt-ecmp-pin.sh and sourced by owrt-ecmp.sh (same variables).
#
# Rules: pref BASE keeps non-default main routes (LAN, peers) first; BASE+k answers
# from dial k's address through dial k (router-local sockets); BASE+100+k sends
# packets marked for dial k through it; BASE+200 is everything else: the ECMP table.

# fwmark bits that pin a connection to dial k (mark k << 24). mwan3 uses 0x3F00,
# pbr and Tailscale 0xFF0000, SQM/qosify and most scripts the low byte.
OWRT_ECMP_MARK_MASK=0x7f000000
OWRT_ECMP_MARK_KEEP=0x80ffffff
OWRT_ECMP_NFT_TABLE=owrt_ecmp

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
	[ -n "$UP4" ] || return 0
	printf '%s all - main\n%s all - %s\n' "$_b" $((_b + 200)) "$_b"
	for _r in $RULES; do
		_x=${_r#*:}
		_k=${_x%%:*}
		printf '%s %s - %s\n' $((_b + _k)) "${_x#*:}" $((_b + _k))
		_owrt_ecmp_have_nft &&
			printf '%s all %s/%s %s\n' $((_b + 100 + _k)) "$(_owrt_ecmp_mark "$_k")" "$OWRT_ECMP_MARK_MASK" $((_b + _k))
	done
	return 0
}

_owrt_ecmp_rules_now() {
	ip "$1" rule show 2>/dev/null | awk '{
		p = $1; sub(/:$/, "", p); m = "-"; t = ""
		for (i = 2; i < NF; i++) { if ($i == "fwmark") m = $(i + 1); if ($i == "lookup") t = $(i + 1) }
		print p, $3, m, t
	}'
}

# "pref table" of every rule the library owns, found in the kernel (so dials removed
# by a shrink are found too): BASE → main, BASE+k and BASE+100+k → BASE+k, BASE+200 → BASE.
_owrt_ecmp_rules_owned() {
	_owrt_ecmp_rules_now "$1" | awk -v b="$OWRT_ECMP_BASE" '{
		p = $1 - b; t = $4
		if ((p == 0 && t == "main") || (p == 200 && t == b "") ||
			(p >= 1 && p <= 64 && t == $1 "") || (p >= 101 && p <= 164 && t == ($1 - 100) ""))
			print $1, t
	}'
}

# Remove every rule the library added, and nothing else: a rule is deleted by
# priority AND table (mwan3 and pbr keep rules at 1000+, 2000+, 3000+).
_owrt_ecmp_rules_clear() {
	for _fam in -4 -6; do
		_owrt_ecmp_rules_owned "$_fam" | while read -r _p _t; do
			if [ "$_t" = main ]; then
				ip "$_fam" rule del priority "$_p" table main suppress_prefixlength 0
			else
				ip "$_fam" rule del priority "$_p" table "$_t"
				[ "$_t" = "$OWRT_ECMP_BASE" ] || ip "$_fam" route flush table "$_t"
			fi
		done 2>/dev/null
		# a dial table whose rule went missing still holds its route
		for _spec in $OWRT_ECMP_DIALS; do
			_rest=${_spec#*:}
			ip "$_fam" route flush table $((OWRT_ECMP_BASE + ${_rest%%:*})) 2>/dev/null
		done
	done
}

# Policy rules: pref BASE keeps non-default main routes (LAN, peers) first;
# BASE+k answers from dial k's address through dial k (router-local sockets);
# BASE+100+k sends packets marked for dial k (see _owrt_ecmp_nft) through it;
# BASE+200 is everything else: the ECMP table.
# Make before break: a live connection routed for a moment by another dial than the
# one it was masqueraded on is killed by the kernel (nf_nat: masquerade output
# interface changed). So dial tables are filled first, missing rules are added in
# priority order (the catch-all BASE+200 after the marks it must not overtake), and
# only then are rules nobody wants any more deleted, each by its full selector.
_owrt_ecmp_rules() {
	_kind=$1
	if [ "$_kind" = busybox ]; then
		_owrt_ecmp_rules_clear
		return 0
	fi
	_b=$OWRT_ECMP_BASE
	for _r in $RULES; do
		_x=${_r#*:}
		ip -4 route replace default dev "${_r%%:*}" table $((_b + ${_x%%:*}))
	done
	for _fam in -4 -6; do
		_want=$(_owrt_ecmp_rules_wanted "$_fam")
		_now=$(_owrt_ecmp_rules_now "$_fam")
		# shellcheck disable=SC2046 # the rule's words, split on purpose
		printf '%s\n' "$_want" | sort -n | while read -r _p _from _mark _t; do
			[ -n "$_p" ] || continue
			printf '%s\n' "$_now" | grep -qxF "$_p $_from $_mark $_t" && continue
			ip "$_fam" rule add $(_owrt_ecmp_rule_args "$_p" "$_from" "$_mark" "$_t")
		done
		_owrt_ecmp_rules_owned "$_fam" | while read -r _p _t; do
			printf '%s\n' "$_now" | awk -v p="$_p" -v t="$_t" '$1 == p && $4 == t' | while read -r _p2 _from _mark _t2; do
				printf '%s\n' "$_want" | grep -qxF "$_p2 $_from $_mark $_t2" && continue
				# shellcheck disable=SC2046
				ip "$_fam" rule del $(_owrt_ecmp_rule_args "$_p2" "$_from" "$_mark" "$_t2")
				# a dial that is gone for good (shrink) leaves its table behind otherwise
				case $_t2 in main | "$_b") continue ;; esac
				case " $RULES " in *":$((_t2 - _b)):"*) ;; *) ip "$_fam" route flush table "$_t2" ;; esac
			done
		done 2>/dev/null
	done
	# the table of a dial that is not up any more goes too
	for _spec in $OWRT_ECMP_DIALS; do
		_rest=${_spec#*:}
		_k=${_rest%%:*}
		case " $RULES " in *":$_k:"*) continue ;; esac
		ip -4 route flush table $((_b + _k)) 2>/dev/null
	done
	return 0
}

# "priority P [from A] [fwmark M] lookup T [suppress_prefixlength 0]" of one normalised rule
_owrt_ecmp_rule_args() {
	printf 'priority %s' "$1"
	[ "$2" = all ] || printf ' from %s' "$2"
	[ "$3" = - ] || printf ' fwmark %s' "$3"
	if [ "$4" = main ]; then printf ' lookup main suppress_prefixlength 0'; else printf ' lookup %s' "$4"; fi
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
	_conn=""
	[ "${OWRT_ECMP_BALANCE:-hash}" = conn ] && _conn=1
	[ -n "$_conn" ] && _owrt_ecmp_nft_conn_chains
	printf '\tchain prerouting {\n\t\ttype filter hook prerouting priority mangle; policy accept;\n'
	[ -n "$_conn" ] && _owrt_ecmp_nft_conn_rules
	printf '\t\tct original ip daddr vmap @dial4\n\t\tct reply ip daddr vmap @dial4\n\t}\n}\n'
}

# Are the owned rules and the pin map what they should be for RULES/UP4/UP6?
_owrt_ecmp_policy_ok() {
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

# Weight of dial $1 from OWRT_ECMP_DIALS ("iface:k:weight ...").
_owrt_ecmp_weight() {
	for _spec in $OWRT_ECMP_DIALS; do
		_rest=${_spec#*:}
		[ "${_rest%%:*}" = "$1" ] && { echo "${_rest#*:}"; return 0; }
	done
	echo 1
}

# Weighted round robin as numgen slots: round r gives one slot to every dial whose
# weight is at least r, so weights 2,1,1 become dials 1 2 3 1 (interleaved, not in runs).
# Weights are divided by their greatest common divisor first (4,4,2 = 2,2,1).
# Prints the slot count, then the "slot : goto conn<k>" elements comma-separated.
_owrt_ecmp_conn_slots() {
	_max=0
	_g=0
	for _r in $RULES; do
		_x=${_r#*:}
		_w=$(_owrt_ecmp_weight "${_x%%:*}")
		eval "_cw_${_x%%:*}=$_w"
		[ "$_w" -gt "$_max" ] && _max=$_w
		_a=$_w
		while [ "$_g" -gt 0 ]; do _t=$((_a % _g)); _a=$_g; _g=$_t; done
		_g=$_a
	done
	[ "$_g" -gt 0 ] || _g=1
	_n=0
	for _r in $RULES; do
		_x=${_r#*:}
		eval "_n=\$((_n + _cw_${_x%%:*} / _g))"
	done
	printf '%s ' "$_n"
	# printed as it goes: building one long string is quadratic in ash
	_n=0
	_round=1
	while [ "$_round" -le $((_max / _g)) ]; do
		for _r in $RULES; do
			_x=${_r#*:}
			eval "_w=\$((_cw_${_x%%:*} / _g))"
			[ "$_w" -ge "$_round" ] || continue
			[ "$_n" -gt 0 ] && printf ', '
			printf '%s : goto conn%s' "$_n" "${_x%%:*}"
			_n=$((_n + 1))
		done
		_round=$((_round + 1))
	done
}

# --balance conn, chain part: conn<k> stores dial k in the conntrack mark and in the
# packet mark (rule BASE+100+k routes it through dial k), keeping the other bits.
# Constant masks only (OpenWrt 23.05's kernel 5.15 has no two-register bitwise).
_owrt_ecmp_nft_conn_chains() {
	for _r in $RULES; do
		_x=${_r#*:}
		_m=$(_owrt_ecmp_mark "${_x%%:*}")
		printf '\tchain conn%s {\n\t\tct mark set ct mark & %s | %s\n\t\tmeta mark set meta mark & %s | %s\n\t}\n' \
			"${_x%%:*}" "$OWRT_ECMP_MARK_KEEP" "$_m" "$OWRT_ECMP_MARK_KEEP" "$_m"
	done
}

# --balance conn, prerouting part (before the address pinning). A NEW IPv4 connection
# arriving from anywhere but a dial (the LAN; the router's own connections never pass
# prerouting) and not addressed to the router takes the next round-robin slot. Every
# later packet of a connection whose conntrack mark names a dial that is up gets that
# packet mark again. The maps hold the dials up now: a connection whose dial went away
# falls through to the ECMP table (its NAT binding died with the dial); others never move.
_owrt_ecmp_nft_conn_rules() {
	_devs=""
	_marks=""
	for _r in $RULES; do
		_x=${_r#*:}
		_devs="$_devs${_devs:+, }\"${_r%%:*}\""
		_marks="$_marks${_marks:+, }$(_owrt_ecmp_mark "${_x%%:*}") : goto dial${_x%%:*}"
	done
	_slots=$(_owrt_ecmp_conn_slots)
	printf '\t\tct mark & %s vmap { %s }\n' "$OWRT_ECMP_MARK_MASK" "$_marks"
	printf '\t\tmeta nfproto ipv4 ct state new iifname != { %s } fib daddr type unicast numgen inc mod %s vmap { %s }\n' \
		"$_devs" "${_slots%% *}" "${_slots#* }"
}

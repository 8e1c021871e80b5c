#!/bin/sh
# owrt-ecmp probe-dials: how many PPPoE sessions does the ISP allow this account?
# Sent inline by `owrt-ecmp probe-dials` / `setup --dials auto` (never installed). Trial
# sessions are plain pppd processes on temporary macvlans, outside netifd, the firewall
# and every routing table: they pass no traffic and nothing restarts them. They come up
# one at a time (each stays up while the next is tried, so the ISP counts them all) until
# one is refused, gets a walled-garden address, gets no answer, or MAX is reached; then
# every trial is hung up (pppd sends PADT on SIGTERM) and its macvlan deleted.
#
# The caller sets:
#   OWRT_PROBE_HELD      interfaces whose live sessions count as held ("wan vwan2 ...")
#   OWRT_PROBE_WAN       wan interface (its address exempts a bogus range it lies in)
#   OWRT_PROBE_PARENT    L2 device the trials dial on (wan's device)
#   OWRT_PROBE_MAX       largest total number of sessions to try
#   OWRT_PROBE_TIMEOUT   seconds one trial may take to come up
#   OWRT_PROBE_BOGUS     walled-garden IPv4 CIDRs, space separated
#   OWRT_PROBE_MACS      "n=mac ..." MAC of the macvlan of session n
#   OWRT_PROBE_USER/PASS credentials, when given on the workstation (else wan's from UCI)
# Output lines: held N ADDR | skip-range CIDR | trial N RESULT MS ADDR DETAIL | stop REASON
#   | found N | leftover WHAT.

OWRT_PROBE_DIR=${OWRT_PROBE_DIR:-/tmp/owrt-ecmp-probe}
OWRT_PROBE_PPPD=${OWRT_PROBE_PPPD:-pppd}

_probe_ms() {
	read -r _up _rest </proc/uptime
	_cs=${_up#*.}
	# "07" would be octal (and "08" an error) in shell arithmetic
	echo $(((${_up%.*} * 100 + ${_cs#0}) * 10))
}

_probe_ip2int() {
	_o=$(echo "$1" | tr '.' ' ')
	# shellcheck disable=SC2086 # four octets on purpose
	set -- $_o
	echo $((($1 << 24) + ($2 << 16) + ($3 << 8) + $4))
}

# $1 address, $2 CIDR
_probe_in_cidr() {
	_bits=${2#*/}
	_mask=$(((0xffffffff << (32 - _bits)) & 0xffffffff))
	[ "$_bits" = 0 ] && _mask=0
	[ $(($(_probe_ip2int "$1") & _mask)) = $(($(_probe_ip2int "${2%/*}") & _mask)) ]
}

# pppd's option file syntax: a double-quoted word with \ and " escaped
_probe_quote() {
	printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}

_probe_read_state() {
	ubus call network.interface dump >"$OWRT_PROBE_DIR/dump" 2>/dev/null
	_up_ifs=$(jsonfilter -q -i "$OWRT_PROBE_DIR/dump" -e '@.interface[@.up=true].interface')
	_wan_addr=$(jsonfilter -q -i "$OWRT_PROBE_DIR/dump" -e "@.interface[@.interface='$OWRT_PROBE_WAN']['ipv4-address'][0].address")
	rm -f "$OWRT_PROBE_DIR/dump"
	_held=0
	for _i in $OWRT_PROBE_HELD; do
		case " $(echo "$_up_ifs" | tr '\n' ' ') " in *" $_i "*) _held=$((_held + 1)) ;; esac
	done
	echo "held $_held ${_wan_addr:--}"
	# a range holding wan's own (working) address is how this ISP numbers real sessions
	_bogus=""
	for _c in $OWRT_PROBE_BOGUS; do
		if [ -n "$_wan_addr" ] && _probe_in_cidr "$_wan_addr" "$_c"; then
			echo "skip-range $_c"
		else
			_bogus="$_bogus $_c"
		fi
	done
}

# Credentials into a root-only options file: never in argv, never printed.
_probe_options() {
	_user=${OWRT_PROBE_USER-$(uci -q get "network.$OWRT_PROBE_WAN.username")}
	_pass=${OWRT_PROBE_PASS-$(uci -q get "network.$OWRT_PROBE_WAN.password")}
	(
		umask 077
		{
			printf 'user %s\n' "$(_probe_quote "$_user")"
			printf 'password %s\n' "$(_probe_quote "$_pass")"
			# the service and concentrator wan asks for (netifd's `service` and `ac`)
			_v=$(uci -q get "network.$OWRT_PROBE_WAN.service") && printf 'rp_pppoe_service %s\n' "$(_probe_quote "$_v")"
			_v=$(uci -q get "network.$OWRT_PROBE_WAN.ac") && printf 'rp_pppoe_ac %s\n' "$(_probe_quote "$_v")"
		} >"$OWRT_PROBE_DIR/options"
		printf '#!/bin/sh\nexit 0\n' >"$OWRT_PROBE_DIR/noop"
	)
	chmod 700 "$OWRT_PROBE_DIR/noop"
	unset _pass
	# ppp 2.5 (OpenWrt 24.10) names it pppoe.so, 2.4 rp-pppoe.so
	_plugin=""
	for _f in /usr/lib/pppd/*/pppoe.so /usr/lib/pppd/*/rp-pppoe.so; do
		[ -z "$_plugin" ] && [ -f "$_f" ] && _plugin=${_f##*/}
	done
}

# $1 = session number n: bring up trial n; prints its "trial" line, returns 0 when usable
_probe_trial() {
	_n=$1
	_mv=ecmpt$_n
	_if=ecmpp$_n
	_d=$OWRT_PROBE_DIR/$_n
	mkdir -p "$_d"
	_mac=""
	for _m in $OWRT_PROBE_MACS; do [ "${_m%%=*}" = "$_n" ] && _mac=${_m#*=}; done
	if ! ip link add "$_mv" link "$OWRT_PROBE_PARENT" ${_mac:+address "$_mac"} type macvlan mode private ||
		! ip link set "$_mv" up; then
		echo "trial $_n failed 0 - cannot create macvlan $_mv on $OWRT_PROBE_PARENT"
		return 1
	fi
	_t0=$(_probe_ms)
	(
		"$OWRT_PROBE_PPPD" file "$OWRT_PROBE_DIR/options" plugin "${_plugin:-pppoe.so}" "nic-$_mv" ifname "$_if" \
			nodetach maxfail 1 noipdefault nodefaultroute noipv6 mtu 1492 mru 1492 \
			ip-up-script "$OWRT_PROBE_DIR/noop" ip-down-script "$OWRT_PROBE_DIR/noop" \
			logfile "$_d/log" </dev/null >"$_d/out" 2>&1 &
		echo $! >"$_d/pid"
		wait $!
		echo $? >"$_d/rc"
	) </dev/null >/dev/null 2>&1 &
	_deadline=$((_t0 + OWRT_PROBE_TIMEOUT * 1000))
	while :; do
		_addr=$(ip -4 -o addr show dev "$_if" 2>/dev/null | sed -n 's/.* inet \([0-9.]*\).*/\1/p' | head -n 1)
		[ -n "$_addr" ] && break
		[ -s "$_d/rc" ] && break
		[ "$(_probe_ms)" -ge "$_deadline" ] && break
		sleep 0.2 2>/dev/null || sleep 1
	done
	_ms=$(($(_probe_ms) - _t0))
	_detail=$(cat "$_d/log" "$_d/out" 2>/dev/null | sed -n 's/.*Remote message: //p' | tail -n 1 | tr -cd '[:print:]' | cut -c1-120)
	if [ -n "$_addr" ]; then
		for _c in $_bogus; do
			_probe_in_cidr "$_addr" "$_c" || continue
			echo "trial $_n walled-garden $_ms $_addr in $_c"
			return 1
		done
		echo "trial $_n ok $_ms $_addr"
		return 0
	fi
	case $(cat "$_d/rc" 2>/dev/null) in
	'') echo "trial $_n timeout $_ms - no address within ${OWRT_PROBE_TIMEOUT} s" ;;
	19) echo "trial $_n refused $_ms - ${_detail:-authentication failed}" ;;
	8) echo "trial $_n no-offer $_ms - no PPPoE offer (PADO) from the ISP" ;;
	*) echo "trial $_n failed $_ms - pppd exit $(cat "$_d/rc")${_detail:+: $_detail}" ;;
	esac
	return 1
}

# Hang up every trial (SIGTERM: pppd sends LCP TermReq and PADT), delete the macvlans.
_probe_cleanup() {
	[ -d "$OWRT_PROBE_DIR" ] || return 0
	for _p in "$OWRT_PROBE_DIR"/*/pid; do
		[ -f "$_p" ] || continue
		_pid=$(cat "$_p")
		# only a pppd: the pid of a run killed long ago may belong to something else now
		[ "$(cat "/proc/$_pid/comm" 2>/dev/null)" = pppd ] || continue
		kill -TERM "$_pid" 2>/dev/null
	done
	_i=0
	while [ $_i -lt 50 ]; do
		_alive=""
		for _p in "$OWRT_PROBE_DIR"/*/pid; do
			[ -f "$_p" ] && kill -0 "$(cat "$_p")" 2>/dev/null && _alive="$_alive $(cat "$_p")"
		done
		[ -z "$_alive" ] && break
		sleep 0.1 2>/dev/null || sleep 1
		_i=$((_i + 1))
	done
	# shellcheck disable=SC2086
	[ -n "$_alive" ] && kill -KILL $_alive 2>/dev/null
	for _l in /sys/class/net/ecmpt*; do
		[ -e "$_l" ] && ip link del "${_l##*/}" 2>/dev/null
	done
	for _l in /sys/class/net/ecmpt* /sys/class/net/ecmpp*; do
		[ -e "$_l" ] && echo "leftover ${_l##*/}"
	done
	rm -rf "$OWRT_PROBE_DIR"
}

owrt_probe_run() {
	if ! mkdir "$OWRT_PROBE_DIR.lock" 2>/dev/null; then
		if kill -0 "$(cat "$OWRT_PROBE_DIR.lock/pid" 2>/dev/null)" 2>/dev/null; then
			echo "stop busy"
			return 9
		fi
	fi
	echo $$ >"$OWRT_PROBE_DIR.lock/pid"
	# a run that was killed may have left trials behind: end them first
	_probe_cleanup >/dev/null
	mkdir -p "$OWRT_PROBE_DIR" && chmod 700 "$OWRT_PROBE_DIR"
	trap '_probe_cleanup; rm -rf "$OWRT_PROBE_DIR.lock"; exit 1' INT TERM
	_probe_read_state
	_probe_options
	_found=$_held
	_stop=max
	while [ "$_found" -lt "$OWRT_PROBE_MAX" ]; do
		if ! _line=$(_probe_trial $((_found + 1))); then
			echo "$_line"
			_stop=$(echo "$_line" | cut -d' ' -f3)
			break
		fi
		echo "$_line"
		_found=$((_found + 1))
	done
	_probe_cleanup
	trap - INT TERM
	rm -rf "$OWRT_PROBE_DIR.lock"
	echo "stop $_stop"
	echo "found $_found"
}

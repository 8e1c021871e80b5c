#!/bin/sh
# owrt-ecmp dial monitor, installed as /usr/lib/owrt-ecmp/health.sh and run by procd
# (/etc/init.d/owrt-ecmp, respawned). Once a second, for every managed dial:
#
# * up: healthy while its ppp device receives bytes (/sys rx_bytes grows). A dial that
#   received nothing since the last look is probed once through its own device (ping
#   -I dev; the answer itself is received traffic). Two looks in a row without a byte
#   (2-3 s after the traffic stopped) make it unhealthy: it is written to the run-time
#   file the library's rebuild honours (out of the ECMP set and the pin map; the PPP
#   session is left alone). Two looks in a row with traffic put it back.
# * refused by the ISP (ubus error AUTH_TOPEER_FAILED): ifdown, so netifd stops retrying
#   every few seconds on the shared account, and ifup again after 10 s, 20 s, 40 s ... 600 s.
# * down (not connecting) for longer than a bound (20 s) while another dial is up: ifup for
#   that dial only; while it stays down, again after 40 s, 80 s ... at most 600 s. A dial an
#   admin took down (netifd's autostart off) is left down.
#
# Healthy and up dials are never ifup'ed or ifdown'ed. Cost per second: reads from /sys,
# one sleep, a ping per dial that was quiet; one ubus dump + jsonfilter every
# OWRT_ECMP_HEALTH_DUMP_EVERY seconds (and whenever a known ppp device vanished).
#
# Settings come from the hotplug glue (OWRT_ECMP_DIALS ...; it also sources the
# library) and from UCI: owrt_ecmp.main.health_target = IPv4 address probed through
# every dial; empty = each dial's PPP peer (see README "Dial health").

OWRT_ECMP_GLUE=${OWRT_ECMP_GLUE:-/etc/hotplug.d/iface/95-owrt-ecmp}
HM_DUMP=${OWRT_ECMP_HEALTH_DUMP:-/var/run/owrt-ecmp.health-dump}
HM_DOWN_BOUND=${OWRT_ECMP_HEALTH_DOWN:-20}
HM_BACKOFF_MIN=${OWRT_ECMP_HEALTH_BACKOFF:-10}
HM_BACKOFF_MAX=${OWRT_ECMP_HEALTH_BACKOFF_MAX:-600}
HM_DUMP_EVERY=${OWRT_ECMP_HEALTH_DUMP_EVERY:-2}
HM_TICKS=${OWRT_ECMP_HEALTH_TICKS:-0}
HM_REFUSED_CODES=${OWRT_ECMP_HEALTH_REFUSED_CODES:-AUTH_TOPEER_FAILED}

_hm_var() { eval "printf '%s' \"\${$1:-}\""; }
_hm_set() { eval "$1=\$2"; }

# Centiseconds since boot: monotonic, and read without starting a process
# ("1${frac} - 100" keeps a leading 0 from being read as octal).
_hm_now() {
	read -r _hm_up _ </proc/uptime
	HM_NOW=$((${_hm_up%%.*} * 100 + 1${_hm_up#*.} - 100))
}

# centiseconds since boot → Unix time
_hm_epoch() { echo $((HM_BOOT + $1 / 100)); }

# One ubus dump, one jsonfilter: MU_k up, MP_k pending, MS_k autostart, MD_k device,
# MT_k PPP peer, ME_k error codes.
_hm_read_ubus() {
	ubus call network.interface dump >"$HM_DUMP" 2>/dev/null
	[ -s "$HM_DUMP" ] || echo '{"interface":[]}' >"$HM_DUMP"
	set --
	for _spec in $OWRT_ECMP_DIALS; do
		_if=${_spec%%:*}
		_k=${_spec#*:}
		_k=${_k%%:*}
		unset "MU_$_k" "MP_$_k" "MS_$_k" "MD_$_k" "MT_$_k" "ME_$_k"
		_s="@.interface[@.interface='$_if']"
		set -- "$@" -e "MU_$_k=$_s.up" -e "MP_$_k=$_s.pending" -e "MS_$_k=$_s.autostart" \
			-e "MD_$_k=$_s.l3_device" -e "MT_$_k=${_s}['ipv4-address'][0].ptpaddress" -e "ME_$_k=$_s.errors[*].code"
	done
	[ $# -gt 0 ] && eval "$(jsonfilter -q -i "$HM_DUMP" "$@")"
	rm -f "$HM_DUMP"
	HM_LAST_DUMP=$HM_NOW
}

# The run-time file the library reads (_owrt_ecmp_health_sick): a monitor line, then
# "<iface> <state> <since epoch> <until epoch|-> <reason|->" per dial. Written whole and
# renamed, so a reader never sees half of it.
_hm_write() {
	{
		echo "monitor $$ $(_hm_epoch "$HM_START") ${OWRT_ECMP_HEALTH_TARGET:-peer}"
		for _spec in $OWRT_ECMP_DIALS; do
			_if=${_spec%%:*}
			_k=${_spec#*:}
			_k=${_k%%:*}
			_until=$(_hm_var "RU_$_k")
			[ -n "$_until" ] && _until=$(_hm_epoch "$_until")
			_r=$(_hm_var "RR_$_k")
			echo "$_if $(_hm_var "HS_$_k") $(_hm_epoch "$(_hm_var "HT_$_k")") ${_until:--} ${_r:--}"
		done
	} >"$OWRT_ECMP_HEALTH.tmp" && mv -f "$OWRT_ECMP_HEALTH.tmp" "$OWRT_ECMP_HEALTH"
}

# $1 k, $2 new state, $3 log message
_hm_state() {
	[ "$(_hm_var "HS_$1")" = "$2" ] && return 1
	_hm_set "HS_$1" "$2"
	_hm_set "HT_$1" "$HM_NOW"
	HM_CHANGED=1
	[ -n "$3" ] && owrt_ecmp_log notice "monitor: $3"
}

# An up dial: $1 k, $2 iface, $3 device. Passive first (bytes received since the
# last look); a quiet dial gets one probe whose answer shows up as bytes next time.
_hm_check_up() {
	_k=$1
	_rx=""
	read -r _rx <"/sys/class/net/$3/statistics/rx_bytes" 2>/dev/null
	[ -n "$_rx" ] || { HM_LAST_DUMP=""; return 0; } # device gone: look at ubus next tick
	_last=$(_hm_var "RX_$_k")
	_hm_set "RX_$_k" "$_rx"
	_hm_set "DN_$_k" ""
	_hm_set "BO_$_k" ""
	_hm_set "RU_$_k" ""
	_hm_set "RR_$_k" ""
	case $(_hm_var "HS_$_k") in healthy | unhealthy) ;; *) _hm_state "$_k" healthy "dial $2 ($3) is up" ;; esac
	if [ -n "$_last" ] && [ "$_rx" = "$_last" ]; then
		_hm_set "OK_$_k" 0
		_bad=$(($(_hm_var "BAD_$_k") + 1))
		_hm_set "BAD_$_k" "$_bad"
		[ "$_bad" -ge 2 ] && _hm_state "$_k" unhealthy \
			"dial $2 ($3) is silent: nothing received for 2 s and no probe answered; out of the ECMP set (the PPP session stays)" &&
			HM_ROUTES="$HM_ROUTES $2"
	else
		_hm_set "BAD_$_k" 0
		_ok=$(($(_hm_var "OK_$_k") + 1))
		_hm_set "OK_$_k" "$_ok"
		[ "$_ok" -ge 2 ] && [ "$(_hm_var "HS_$_k")" = unhealthy ] &&
			_hm_state "$_k" healthy "dial $2 ($3) passes traffic again; back in the ECMP set" &&
			HM_ROUTES="$HM_ROUTES $2"
		[ "$(_hm_var "HS_$_k")" = healthy ] && return 0
	fi
	_t=${OWRT_ECMP_HEALTH_TARGET:-$(_hm_var "MT_$_k")}
	[ -n "$_t" ] && ping -c 1 -W 1 -I "$3" "$_t" >/dev/null 2>&1 &
	return 0
}

# $1 k → next backoff: $2 (first) doubling to HM_BACKOFF_MAX
_hm_backoff() {
	_b=$(_hm_var "BO_$1")
	if [ -z "$_b" ]; then _b=$2; else _b=$((_b * 2)); fi
	[ "$_b" -gt "$HM_BACKOFF_MAX" ] && _b=$HM_BACKOFF_MAX
	_hm_set "BO_$1" "$_b"
	_hm_set "RU_$1" $((HM_NOW + _b * 100))
}

# A dial that is not up: $1 k, $2 iface. Refused → ifdown + backoff; down too long
# while another dial is up → ifup for it alone.
_hm_check_down() {
	_k=$1
	_hm_set "RX_$_k" ""
	_hm_set "BAD_$_k" 0
	_hm_set "OK_$_k" 0
	_err=""
	for _c in $(_hm_var "ME_$_k"); do
		case " $HM_REFUSED_CODES " in *" $_c "*) _err=$_c ;; esac
	done
	_until=$(_hm_var "RU_$_k")
	if [ -n "$_err" ] && { [ "$(_hm_var "HS_$_k")" != refused ] || [ -z "$_until" ]; }; then
		_hm_backoff "$_k" "$HM_BACKOFF_MIN"
		_hm_set "RR_$_k" "$_err"
		HM_CHANGED=1
		_hm_state "$_k" refused ""
		owrt_ecmp_log warn "monitor: dial $2 refused by the ISP ($_err): ifdown, next try in $(_hm_var "BO_$_k") s"
		ifdown "$2"
		return 0
	fi
	if [ "$(_hm_var "HS_$_k")" = refused ]; then
		[ -n "$_until" ] && [ "$HM_NOW" -ge "$_until" ] || return 0
		_hm_set "RU_$_k" ""
		HM_CHANGED=1
		owrt_ecmp_log notice "monitor: dial $2: backoff over, ifup"
		ifup "$2"
		return 0
	fi
	_hm_check_dead "$_k" "$2"
}

# Down and not connecting: $1 k, $2 iface
_hm_check_dead() {
	_k=$1
	_dn=$(_hm_var "DN_$_k")
	if [ -z "$_dn" ]; then
		_hm_set "DN_$_k" "$HM_NOW"
		_hm_state "$_k" down "dial $2 is down"
		return 0
	fi
	[ "$(_hm_var "MP_$_k")" = 1 ] && return 0 # netifd is connecting it
	[ "$(_hm_var "MS_$_k")" = 0 ] && return 0 # an admin took it down (ifdown clears autostart)
	[ "$HM_ANY_UP" = 1 ] || return 0          # total outage: netifd's own retries are enough
	_next=$(_hm_var "RU_$_k")
	[ -n "$_next" ] || _next=$((_dn + HM_DOWN_BOUND * 100))
	[ "$HM_NOW" -ge "$_next" ] || return 0
	_hm_backoff "$_k" $((HM_DOWN_BOUND * 2))
	HM_CHANGED=1
	owrt_ecmp_log notice "monitor: dial $2 down for $(((HM_NOW - _dn) / 100)) s while others are up: ifup $2 (next try in $(_hm_var "BO_$_k") s)"
	ifup "$2"
}

_hm_tick() {
	_hm_now
	sleep 1 &
	# (a tick lasts a little over 1 s: 20 cs of slack keep "every 1 s" at every tick)
	if [ -z "$HM_LAST_DUMP" ] || [ $((HM_NOW - HM_LAST_DUMP)) -ge $((HM_DUMP_EVERY * 100 - 20)) ]; then _hm_read_ubus; fi
	HM_ANY_UP=0
	for _spec in $OWRT_ECMP_DIALS; do
		_k=${_spec#*:}
		[ "$(_hm_var "MU_${_k%%:*}")" = 1 ] && HM_ANY_UP=1
	done
	for _spec in $OWRT_ECMP_DIALS; do
		_k=${_spec#*:}
		_k=${_k%%:*}
		_dev=$(_hm_var "MD_$_k")
		if [ "$(_hm_var "MU_$_k")" = 1 ] && [ -n "$_dev" ]; then
			_hm_check_up "$_k" "${_spec%%:*}" "$_dev"
		else
			_hm_check_down "$_k" "${_spec%%:*}"
		fi
	done
	# the file first: the rebuild reads it
	[ -n "$HM_CHANGED" ] && _hm_write
	[ -n "$HM_ROUTES" ] && owrt_ecmp_rebuild "health:$HM_ROUTES"
	HM_CHANGED=""
	HM_ROUTES=""
	wait
}

# Stopped (procd sends TERM): every dial back into the set, nothing left behind.
_hm_stop() {
	rm -f "$OWRT_ECMP_HEALTH" "$OWRT_ECMP_HEALTH.tmp" "$HM_DUMP"
	owrt_ecmp_rebuild "health monitor stopped"
	owrt_ecmp_log notice "monitor: stopped"
	exit 0
}

owrt_ecmp_health_main() {
	if [ -z "${OWRT_ECMP_DIALS:-}" ]; then
		# the glue exports the settings and sources the library; without ACTION it does nothing else
		export ACTION=""
		# shellcheck source=/dev/null
		. "$OWRT_ECMP_GLUE" || exit 1
	fi
	[ -n "${OWRT_ECMP_HEALTH_TARGET+set}" ] || OWRT_ECMP_HEALTH_TARGET=$(uci -q get owrt_ecmp.main.health_target)
	_hm_now
	HM_START=$HM_NOW
	HM_BOOT=$(($(date +%s) - HM_NOW / 100))
	HM_LAST_DUMP=""
	# a monitor that died left its marks: the first tick rewrites them and rebuilds
	HM_CHANGED=1
	HM_ROUTES=" start"
	trap _hm_stop TERM INT
	owrt_ecmp_log notice "monitor: started (probe target: ${OWRT_ECMP_HEALTH_TARGET:-the PPP peer of each dial})"
	_hm_n=0
	while [ "$HM_TICKS" = 0 ] || [ "$_hm_n" -lt "$HM_TICKS" ]; do
		_hm_tick
		_hm_n=$((_hm_n + 1))
	done
	_hm_stop
}

owrt_ecmp_health_main

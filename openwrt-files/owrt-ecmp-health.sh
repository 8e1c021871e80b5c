#!/bin/sh
# owrt-ecmp dial monitor, installed as /usr/lib/owrt-ecmp/health.sh and run by procd
# (/etc/init.d/owrt-ecmp, respawned). Every half second (every second where BusyBox
# sleep takes no fractions), for every managed dial:
#
# * up: healthy while its ppp device receives bytes (/sys rx_bytes grows). A look that
#   finds nothing received since the last one sends one probe through the dial's own
#   device (ping -W 1 -I dev; the answer itself is received traffic). The tick waits for
#   its probes, so a look that follows a probe sees it answered or timed out, however
#   slow the router is: a probe that ended with nothing received since makes the dial
#   unhealthy. It is written to the run-time file the library's rebuild honours (out of
#   the ECMP set and the pin map; the PPP session is left alone). Two looks with traffic
#   and no unanswered probe between put it back.
# * refused by the ISP (ubus error AUTH_TOPEER_FAILED): ifdown, so netifd stops retrying
#   every few seconds on the shared account, and ifup again after 10 s, 20 s, 40 s ... 600 s.
# * down (not connecting) for longer than a bound (20 s) while another dial is up: ifup for
#   that dial only; while it stays down, again after 40 s, 80 s ... at most 600 s. A dial an
#   admin took down (netifd's autostart off) is left down.
#
# Probes only with owrt_ecmp.main.health '1' (OWRT_ECMP_HEALTH_MODE; --health on); with
# 'redial' (the default) up dials are left healthy, only refused and dead dials are handled.
#
# Healthy and up dials are never ifup'ed or ifdown'ed. Cost per look: reads from /sys,
# one sleep, a ping per quiet dial. netifd is read (one ubus dump + jsonfilter) every
# OWRT_ECMP_HEALTH_DUMP_EVERY seconds while a dial is not up, at once when a known ppp
# device vanished or was made anew, and every OWRT_ECMP_HEALTH_DUMP_IDLE seconds
# otherwise: while every dial is up, netifd has nothing the looks need.
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
HM_DUMP_IDLE=${OWRT_ECMP_HEALTH_DUMP_IDLE:-30}
HM_TICKS=${OWRT_ECMP_HEALTH_TICKS:-0}
HM_REFUSED_CODES=${OWRT_ECMP_HEALTH_REFUSED_CODES:-AUTH_TOPEER_FAILED}

# Per-dial state lives in <NAME>_<k> variables; a check loads dial k's into fixed names
# (_HS state, _HT since, _RX rx_bytes, _IX ifindex, _PS probe sent since the last traffic,
# _OK looks with traffic, _BO backoff s, _RU retry at, _RR reason, _DN down since;
# from ubus _MU _MP _MS _MD _MT _ME) and saves them back: one eval each way instead of a
# forked $(...) per variable.
HM_FIELDS="HS HT RX IX PS OK BO RU RR DN"
HM_UBUS="MU MP MS MD MT ME"

_hm_load() {
	_l=""
	for _f in $HM_FIELDS $HM_UBUS; do _l="$_l _$_f=\${${_f}_$1:-};"; done
	eval "$_l"
}

_hm_save() {
	_l=""
	for _f in $HM_FIELDS; do _l="$_l ${_f}_$1=\$_$_f;"; done
	eval "$_l"
}

# Centiseconds since boot: monotonic, and read without starting a process
# ("1${frac} - 100" keeps a leading 0 from being read as octal).
_hm_now() {
	read -r _hm_up _ </proc/uptime
	HM_NOW=$((${_hm_up%%.*} * 100 + 1${_hm_up#*.} - 100))
}

# centiseconds since boot → Unix time in HM_EP ("-" for none), without a subshell
_hm_epoch() {
	if [ -n "$1" ]; then HM_EP=$((HM_BOOT + $1 / 100)); else HM_EP=-; fi
}

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

# The run-time file the library reads (_owrt_ecmp_collect_healthy): a monitor line, then
# "<iface> <state> <since epoch> <until epoch|-> <reason|->" per dial. Written whole and
# renamed, so a reader never sees half of it.
_hm_write() {
	{
		_hm_epoch "$HM_START"
		echo "monitor $$ $HM_EP $HM_TARGET"
		for _spec in $OWRT_ECMP_DIALS; do
			_k=${_spec#*:}
			_hm_load "${_k%%:*}"
			_hm_epoch "$_HT"
			_l="${_spec%%:*} ${_HS:-unknown} $HM_EP"
			_hm_epoch "$_RU"
			echo "$_l $HM_EP ${_RR:--}"
		done
	} >"$OWRT_ECMP_HEALTH.tmp" && mv -f "$OWRT_ECMP_HEALTH.tmp" "$OWRT_ECMP_HEALTH"
}

# $1 new state, $2 log message; fails when the state is unchanged
_hm_state() {
	[ "$_HS" = "$1" ] && return 1
	_HS=$1
	_HT=$HM_NOW
	HM_CHANGED=1
	[ -n "$2" ] && owrt_ecmp_log notice "monitor: $2"
	return 0
}

# An up dial: $1 iface, $2 device. Passive first (bytes received since the last
# look); a quiet dial gets a probe whose answer shows up as bytes at a later look.
_hm_check_up() {
	_rx=""
	_ix=""
	# (2> first: a redirection that fails reports on the stderr set before it)
	read -r _rx 2>/dev/null <"/sys/class/net/$2/statistics/rx_bytes"
	read -r _ix 2>/dev/null <"/sys/class/net/$2/ifindex"
	# device gone, or made anew (a redial between two looks): read netifd next look
	[ -n "$_rx" ] && [ "$_ix" = "${_IX:-$_ix}" ] || HM_LAST_DUMP=""
	_IX=$_ix
	[ -n "$_rx" ] || return 0
	_last=$_RX
	_RX=$_rx
	_DN="" _BO="" _RU="" _RR=""
	case $_HS in healthy | unhealthy) ;; *) _hm_state healthy "dial $1 ($2) is up" ;; esac
	if [ -n "$_last" ] && [ "$_rx" != "$_last" ]; then
		_PS=""
		[ "${_OK:-0}" -ge 2 ] || _OK=$((${_OK:-0} + 1))
		[ "$_OK" -ge 2 ] && [ "$_HS" = unhealthy ] &&
			_hm_state healthy "dial $1 ($2) passes traffic again; back in the ECMP set" &&
			HM_ROUTES="$HM_ROUTES $1"
		return 0
	fi
	# the last tick waited for the probe it sent: it ended unanswered
	if [ -n "$_PS" ]; then
		_OK=0
		[ "$_HS" = healthy ] && _hm_state unhealthy \
			"dial $1 ($2) is silent: nothing received and its probe unanswered; out of the ECMP set (the PPP session stays)" &&
			HM_ROUTES="$HM_ROUTES $1"
	fi
	[ "$HM_PROBE" = 1 ] || return 0
	_t=${OWRT_ECMP_HEALTH_TARGET:-$_MT}
	[ -n "$_t" ] || return 0
	_PS=1
	ping -c 1 -W 1 -I "$2" "$_t" >/dev/null 2>&1 &
	return 0
}

# Next backoff: $1 (first) doubling to HM_BACKOFF_MAX, and the time of the next try.
_hm_backoff() {
	if [ -z "$_BO" ]; then _BO=$1; else _BO=$((_BO * 2)); fi
	[ "$_BO" -gt "$HM_BACKOFF_MAX" ] && _BO=$HM_BACKOFF_MAX
	_RU=$((HM_NOW + _BO * 100))
}

# A dial that is not up: $1 iface. Refused → ifdown + backoff; down too long while
# another dial is up → ifup for it alone.
_hm_check_down() {
	_RX="" _IX="" _PS="" _OK=0
	_err=""
	for _c in $_ME; do
		case " $HM_REFUSED_CODES " in *" $_c "*) _err=$_c ;; esac
	done
	if [ -n "$_err" ] && { [ "$_HS" != refused ] || [ -z "$_RU" ]; }; then
		_hm_backoff "$HM_BACKOFF_MIN"
		_RR=$_err
		HM_CHANGED=1
		_hm_state refused ""
		owrt_ecmp_log warn "monitor: dial $1 refused by the ISP ($_err): ifdown, next try in $_BO s"
		ifdown "$1"
		return 0
	fi
	if [ "$_HS" = refused ]; then
		[ -n "$_RU" ] && [ "$HM_NOW" -ge "$_RU" ] || return 0
		_RU=""
		HM_CHANGED=1
		owrt_ecmp_log notice "monitor: dial $1: backoff over, ifup"
		ifup "$1"
		return 0
	fi
	_hm_check_dead "$1"
}

# Down and not connecting: $1 iface
_hm_check_dead() {
	if [ -z "$_DN" ]; then
		_DN=$HM_NOW
		_hm_state down "dial $1 is down"
		return 0
	fi
	[ "$_MP" = 1 ] && return 0         # netifd is connecting it
	[ "$_MS" = 0 ] && return 0         # an admin took it down (ifdown clears autostart)
	[ "$HM_ANY_UP" = 1 ] || return 0   # total outage: netifd's own retries are enough
	[ "$HM_NOW" -ge "${_RU:-$((_DN + HM_DOWN_BOUND * 100))}" ] || return 0
	_hm_backoff $((HM_DOWN_BOUND * 2))
	HM_CHANGED=1
	owrt_ecmp_log notice "monitor: dial $1 down for $(((HM_NOW - _DN) / 100)) s while others are up: ifup $1 (next try in $_BO s)"
	ifup "$1"
}

_hm_tick() {
	_hm_now
	# the tick lasts HM_TICK, its work or its probes (ping -W 1), whichever is longest
	sleep "$HM_TICK" &
	HM_ANY_DOWN=0
	for _spec in $OWRT_ECMP_DIALS; do
		_k=${_spec#*:}
		eval "[ \"\${MU_${_k%%:*}:-}\" = 1 ]" || HM_ANY_DOWN=1
	done
	_age=$((HM_NOW - ${HM_LAST_DUMP:-0}))
	# (20 cs of slack keep "every 2 s" at every fourth look of a tick a little over 0.5 s)
	if [ -z "$HM_LAST_DUMP" ] || { [ "$HM_ANY_DOWN" = 1 ] && [ "$_age" -ge $((HM_DUMP_EVERY * 100 - 20)) ]; } ||
		[ "$_age" -ge $((HM_DUMP_IDLE * 100)) ]; then
		_hm_read_ubus
	fi
	HM_ANY_UP=0
	for _spec in $OWRT_ECMP_DIALS; do
		_k=${_spec#*:}
		eval "[ \"\${MU_${_k%%:*}:-}\" = 1 ]" && HM_ANY_UP=1
	done
	for _spec in $OWRT_ECMP_DIALS; do
		_k=${_spec#*:}
		_k=${_k%%:*}
		_hm_load "$_k"
		if [ "$_MU" = 1 ] && [ -n "$_MD" ]; then
			_hm_check_up "${_spec%%:*}" "$_MD"
		else
			_hm_check_down "${_spec%%:*}"
		fi
		_hm_save "$_k"
	done
	# the file first: the rebuild reads it
	[ -n "$HM_CHANGED" ] && _hm_write
	# a health change reuses the library's last read of netifd; the first tick reads afresh
	case $HM_ROUTES in
	"") ;;
	*" start"*) owrt_ecmp_rebuild "health:$HM_ROUTES" ;;
	*) owrt_ecmp_rebuild "health:$HM_ROUTES" reuse ;;
	esac
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
	[ -n "${OWRT_ECMP_HEALTH_MODE+set}" ] || OWRT_ECMP_HEALTH_MODE=$(uci -q get owrt_ecmp.main.health)
	# probes only when asked for ('1' = --health on); 'redial', or no option (a router set up
	# before the setting existed: the default), sends none
	HM_PROBE=0
	HM_TARGET=none
	if [ "$OWRT_ECMP_HEALTH_MODE" = 1 ]; then
		HM_PROBE=1
		HM_TARGET=${OWRT_ECMP_HEALTH_TARGET:-peer}
	fi
	# half-second looks where sleep takes fractions (BusyBox FEATURE_FLOAT_SLEEP), else 1 s
	HM_TICK=${OWRT_ECMP_HEALTH_TICK:-0.5}
	sleep "$HM_TICK" 2>/dev/null || HM_TICK=1
	_hm_now
	HM_START=$HM_NOW
	HM_BOOT=$(($(date +%s) - HM_NOW / 100))
	HM_LAST_DUMP=""
	# a monitor that died left its marks: the first tick rewrites them and rebuilds
	HM_CHANGED=1
	HM_ROUTES=" start"
	trap _hm_stop TERM INT
	if [ "$HM_PROBE" = 1 ]; then
		owrt_ecmp_log notice "monitor: started (probe target: ${OWRT_ECMP_HEALTH_TARGET:-the PPP peer of each dial})"
	else
		owrt_ecmp_log notice "monitor: started (redial only: refused and dead dials, no probes)"
	fi
	_hm_n=0
	while [ "$HM_TICKS" = 0 ] || [ "$_hm_n" -lt "$HM_TICKS" ]; do
		_hm_tick
		_hm_n=$((_hm_n + 1))
	done
	_hm_stop
}

owrt_ecmp_health_main

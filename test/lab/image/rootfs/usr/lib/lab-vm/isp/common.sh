# Shared by the server-side pppd scripts (sourced; they run inside netns isp).
# shellcheck shell=sh disable=SC2034
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
IP=/usr/libexec/ip-full
PPPD_PID=$PPID
SESSIONS=/run/isp/sessions

# From the pppd command line that the lab's pppoe-server built:
#   "pppd plugin pppoe.so nic-isp0 pppoe-sess <id>:<client mac> nodetach <local>:<remote>"
# sets SESS_ID, CLIENT_MAC, REMOTE4.
sess_info() {
	# shellcheck disable=SC2046
	set -- $(tr '\0' ' ' < /proc/$PPPD_PID/cmdline)
	SESS_ID='' CLIENT_MAC='' REMOTE4=''
	while [ $# -gt 0 ]; do
		case $1 in
		pppoe-sess|rp_pppoe_sess) SESS_ID=${2%%:*}; CLIENT_MAC=${2#*:}; shift ;;
		*.*.*.*:*.*.*.*) REMOTE4=${1#*:} ;;
		esac
		shift
	done
}

# Per-session /64: 2001:db8:100:<last octet of the session's IPv4>::/64
prefix6_of() { echo "2001:db8:100:${1##*.}::/64"; }

# Per-session delegated prefix: 2001:db8:200:<last octet in hex>00::/56 (netifd-sim's
# netifd_pd.py derives the same one on the router side)
pd6_of() { printf '2001:db8:200:%x00::/56\n' "${1##*.}"; }

# Lab version of OpenWrt's /lib/functions/network.sh: interface facts from
# one cached `ubus call network.interface dump`, read with jsonfilter.

__network_ifstatus() {
	local __tmp
	if [ -z "$__NETWORK_CACHE" ]; then
		__tmp="$(ubus call network.interface dump 2>&1)"
		case "$?" in
			4) : ;;
			0) export __NETWORK_CACHE="$__tmp" ;;
			*) echo "$__tmp" >&2 ;;
		esac
	fi
	__tmp="$(jsonfilter ${4:+-F "$4"} ${5:+-l "$5"} -s "${__NETWORK_CACHE:-{}}" -e "$1=@.interface${2:+[@.interface='$2']}$3")"
	[ -z "$__tmp" ] && unset "$1" && return 1
	eval "$__tmp"
}

network_flush_cache() { unset __NETWORK_CACHE; }

network_get_ipaddr() { __network_ifstatus "$1" "$2" "['ipv4-address'][0].address"; }
network_get_ipaddr6() { __network_ifstatus "$1" "$2" "['ipv6-address'][0].address"; }
network_get_ipaddrs() { __network_ifstatus "$1" "$2" "['ipv4-address'][*].address"; }
network_get_ipaddrs6() { __network_ifstatus "$1" "$2" "['ipv6-address'][*].address"; }
network_get_subnet() { __network_ifstatus "$1" "$2" "['ipv4-address'][0]['address','mask']" "/"; }
network_get_subnet6() { __network_ifstatus "$1" "$2" "['ipv6-address'][0]['address','mask']" "/"; }
network_get_prefix6() { __network_ifstatus "$1" "$2" "['ipv6-prefix'][0]['address','mask']" "/"; }

network_get_gateway() {
	__network_ifstatus "$1" "$2" ".route[@.target='0.0.0.0' && !@.table].nexthop" "" 1 && return 0
	[ "$3" = 1 ] || [ "$3" = "true" ] && \
		__network_ifstatus "$1" "$2" ".inactive.route[@.target='0.0.0.0' && !@.table].nexthop" "" 1
}

network_get_gateway6() {
	__network_ifstatus "$1" "$2" ".route[@.target='::' && !@.table].nexthop" "" 1 && return 0
	[ "$3" = 1 ] || [ "$3" = "true" ] && \
		__network_ifstatus "$1" "$2" ".inactive.route[@.target='::' && !@.table].nexthop" "" 1
}

network_get_dnsserver() { __network_ifstatus "$1" "$2" "['dns-server'][*]"; }
network_get_dnssearch() { __network_ifstatus "$1" "$2" "['dns-search'][*]"; }

__network_wan() {
	__network_ifstatus "$1" "" "[@.route[@.target='$2' && !@.table]].interface" "" 1 && return 0
	[ "$3" = 1 ] || [ "$3" = "true" ] && \
		__network_ifstatus "$1" "" "[@.inactive.route[@.target='$2' && !@.table]].interface" "" 1
}
network_find_wan() { __network_wan "$1" "0.0.0.0" "$2"; }
network_find_wan6() { __network_wan "$1" "::" "$2"; }

network_is_up() {
	local __up
	__network_ifstatus "__up" "$1" ".up" && [ "$__up" = 1 ]
}

network_get_protocol() { __network_ifstatus "$1" "$2" ".proto"; }
network_get_uptime() { __network_ifstatus "$1" "$2" ".uptime"; }
network_get_metric() { __network_ifstatus "$1" "$2" ".metric"; }
network_get_device() { __network_ifstatus "$1" "$2" ".l3_device"; }
network_get_physdev() { __network_ifstatus "$1" "$2" ".device"; }
network_defer_device() { return 0; }
network_ready_device() { return 0; }

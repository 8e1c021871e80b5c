# Lab version of OpenWrt's /lib/functions.sh: the config_* helpers scripts use.
# config_load evaluates `uci export` (committed config + staged deltas, as uci
# shows them) through the config/option/list functions below.

append() {
	local var="$1" value="$2" sep="${3:- }"
	eval "export -- \"$var=\${$var:+\${$var}\${value:+\$sep}}\$value\""
}

list_contains() {
	local var="$1" str="$2" val
	eval "val=\" \${$var} \""
	[ "${val%% $str *}" != "$val" ]
}

config_cb() { return 0; }
option_cb() { return 0; }
list_cb() { return 0; }

reset_cb() {
	config_cb() { return 0; }
	option_cb() { return 0; }
	list_cb() { return 0; }
}

package() { return 0; }

config() {
	local cfgtype="$1" name="$2"
	export -n "CONFIG_NUM_SECTIONS=$((${CONFIG_NUM_SECTIONS:-0} + 1))"
	name="${name:-cfg$CONFIG_NUM_SECTIONS}"
	append CONFIG_SECTIONS "$name"
	export -n "CONFIG_SECTION=$name"
	export -n "CONFIG_${name}_TYPE=$cfgtype"
	config_cb "$cfgtype" "$name"
}

option() {
	local varname="$1"; shift
	local value="$*"
	export -n "CONFIG_${CONFIG_SECTION}_${varname}=$value"
	option_cb "$varname" "$*"
}

list() {
	local varname="$1"; shift
	local value="$*" len
	config_get len "$CONFIG_SECTION" "${varname}_LENGTH" 0
	[ "$len" = 0 ] && append "CONFIG_LIST_STATE" "${CONFIG_SECTION}_${varname}"
	len=$((len + 1))
	config_set "$CONFIG_SECTION" "${varname}_ITEM$len" "$value"
	config_set "$CONFIG_SECTION" "${varname}_LENGTH" "$len"
	append "CONFIG_${CONFIG_SECTION}_${varname}" "$value" "$LIST_SEP"
	list_cb "$varname" "$*"
}

config_unset() {
	config_set "$1" "$2" ""
}

config_get() {
	case "$2${3:-}" in
		*.*|*-*) return 1 ;;
	esac
	case "$3" in
		"") eval echo "\"\${CONFIG_${1}_${2}:-\${3}}\"" ;;
		*)  eval export -n -- "${1}=\${CONFIG_${2}_${3}:-\${4}}" ;;
	esac
}

get_bool() {
	local _tmp="$1"
	case "$_tmp" in
		1|on|true|yes|enabled) _tmp=1 ;;
		0|off|false|no|disabled) _tmp=0 ;;
		*) _tmp="$2" ;;
	esac
	echo -n "$_tmp"
}

config_get_bool() {
	local _tmp
	config_get _tmp "$2" "$3" "$4"
	_tmp="$(get_bool "$_tmp" "$4")"
	export -n "$1=$_tmp"
}

config_set() {
	local section="$1" option="$2" value="$3"
	export -n "CONFIG_${section}_${option}=$value"
}

config_foreach() {
	local ___function="$1"
	[ "$#" -ge 1 ] && shift
	local ___type="$1"
	[ "$#" -ge 1 ] && shift
	local section cfgtype
	[ -z "$CONFIG_SECTIONS" ] && return 0
	for section in ${CONFIG_SECTIONS}; do
		config_get cfgtype "$section" TYPE
		[ -n "$___type" ] && [ "x$cfgtype" != "x$___type" ] && continue
		eval "$___function \"\$section\" \"\$@\""
	done
}

config_list_foreach() {
	[ "$#" -ge 3 ] || return 0
	local section="$1"; shift
	local option="$1"; shift
	local function="$1"; shift
	local val len c=1
	config_get len "${section}" "${option}_LENGTH"
	[ -z "$len" ] && return 0
	while [ $c -le "$len" ]; do
		config_get val "${section}" "${option}_ITEM$c"
		eval "$function \"\$val\" \"\$@\""
		c="$((c + 1))"
	done
}

config_clear() {
	local SECTION="$1" oldvar
	list_contains CONFIG_SECTIONS "$SECTION" || return 0
	for oldvar in $(set | grep "^CONFIG_${SECTION:+${SECTION}_}" | sed -e 's/\(.*\)=.*$/\1/'); do
		unset "$oldvar"
	done
}

config_load() {
	[ -n "$IPKG_INSTROOT" ] && return 0
	local PACKAGE="$1" DATA RET
	export -n CONFIG_SECTIONS= CONFIG_NUM_SECTIONS=0 CONFIG_SECTION=
	DATA="$(/sbin/uci -q -n export "$PACKAGE" 2>/dev/null)"
	RET="$?"
	[ "$RET" != 0 ] || [ -z "$DATA" ] || eval "$DATA"
	unset DATA
	return "$RET"
}

uci_get() {
	local PACKAGE="$1" CONFIG="$2" OPTION="$3" DEFAULT="$4"
	/sbin/uci -q get "$PACKAGE${CONFIG:+.$CONFIG}${OPTION:+.$OPTION}" || echo "$DEFAULT"
}

include() {
	local file
	for file in "$1"/*.sh; do
		[ -f "$file" ] && . "$file"
	done
}

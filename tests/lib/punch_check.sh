# tests/lib/punch_check.sh: checks shared by the smoke runs of
# `atmosphere-bench punch` (tests/bench/punch_smoke.sh,
# punch_modes_smoke.sh). Sourced; the caller defines fail MESSAGE (exits).
#
#   check NAME FILE EXPR...  every jq EXPR is true of the JSON in FILE
#   lab_gone ERRFILE         the namespaces the run announced on its stderr
#                            (ERRFILE) are all gone

check() {
	cname=$1 file=$2
	shift 2
	for e in "$@"; do
		v=$(jq -e "$e" "$file" 2>&1) || fail "$cname: '$e' is not true ($v); see $(cat "$file")"
	done
}

lab_gone() {
	prefix=$(sed -n 's/^punch.sh: NAT lab in namespaces \(.*\)\*$/\1/p' "$1")
	[ -n "$prefix" ] || fail "the run did not say where its lab was: $(cat "$1")"
	left=$(ls /run/netns 2>/dev/null | grep -F "$prefix")
	[ -z "$left" ] || fail "namespaces left behind: $left"
}

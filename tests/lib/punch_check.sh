# tests/lib/punch_check.sh: checks shared by the smoke runs of
# `atmosphere-bench punch` (tests/bench/punch_smoke.sh,
# punch_modes_smoke.sh), beside check of tests/lib/json_check.sh. Sourced;
# the caller defines fail MESSAGE (exits).
#
#   lab_gone ERRFILE         the namespaces the run announced on its stderr
#                            (ERRFILE) are all gone

lab_gone() {
	prefix=$(sed -n 's/^punch.sh: NAT lab in namespaces \(.*\)\*$/\1/p' "$1")
	[ -n "$prefix" ] || fail "the run did not say where its lab was: $(cat "$1")"
	left=$(ls /run/netns 2>/dev/null | grep -F "$prefix")
	[ -z "$left" ] || fail "namespaces left behind: $left"
}

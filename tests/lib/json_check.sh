# tests/lib/json_check.sh: jq checks of a JSON report, for the shell tests
# (POSIX sh; source it). The caller defines fail MESSAGE (exits).
#
#   check NAME FILE EXPR...  every jq EXPR is true of the JSON in FILE; else
#                            fail names NAME, the expression, jq's answer and
#                            the file

check() {
	cname=$1 file=$2
	shift 2
	for e in "$@"; do
		v=$(jq -e "$e" "$file" 2>&1) || fail "$cname: '$e' is not true ($v); see $(cat "$file")"
	done
}

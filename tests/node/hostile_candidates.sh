#!/bin/sh
# tests/node/hostile_candidates.sh BINARY: a peer announcing candidates a
# node must refuse (issue 12, "Bad input"). On loopback, no root: Rob's
# state.json says its public address is [ff02::1] (multicast) and, in a
# second run, [::1] (loopback), so its HELLO carries "[ff02::1]:PORT" then
# "[::1]:PORT". Matt, each time: counts the refusal under its reason in
# `peers --json` self.candidates_refused (0 before, >= 1 after), logs
# "candidate ... refused: REASON", never lists the address among Rob's
# candidates, stays up, and messages flow both ways over the relay.
# About 10 s. Exit 0 pass, 1 fail.
set -u
bin=${1:?usage: hostile_candidates.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/nodes.sh"
nd_begin "$bin"
nd_loopback_servers

# refused HOME REASON: self.candidates_refused.REASON in `peers --json`.
refused() {
	nd_run - "$1" peers --json 2>/dev/null | "$nd_py" -c '
import json, sys
print(json.load(sys.stdin)["self"]["candidates_refused"].get(sys.argv[1], "absent"))' "$2"
}
# rob_cands HOME: Matt's list of Rob's candidate addresses.
rob_cands() {
	nd_run - "$1" peers --json 2>/dev/null | "$nd_py" -c '
import json, sys
for p in json.load(sys.stdin)["peers"]:
    if p.get("name") == "rob":
        print(" ".join(c["address"] for c in p.get("candidates", [])))'
}

run=0
for case in "ff02::1 multicast" "::1 loopback"; do
	set -- $case
	addr=$1 reason=$2
	run=$((run + 1))
	rob=$nd_tmp/rob$run
	matt=$nd_tmp/matt$run
	rport=$(nd_free_udp)
	mport=$(nd_free_udp)
	[ "$rport" != "$mport" ] || mport=$(nd_free_udp)
	nd_run - "$rob" init lab --relay "$nd_relay_url" --port "$rport" --name rob >"$rob.init" 2>&1 ||
		{ cat "$rob.init"; exit 1; }
	"$nd_py" - "$rob/state.json" "[$addr]" <<-'EOF' || { bad "cannot edit rob's state.json"; exit 1; }
	import json, sys
	st = json.load(open(sys.argv[1]))
	st["public_ip"] = sys.argv[2]
	json.dump(st, open(sys.argv[1], "w"))
	EOF
	nd_start - "$rob" "$rob.log" serve
	rob_pid=$nd_pid
	nd_wait 10 "rob's node answers" nd_up - "$rob" || { cat "$rob.log"; exit 1; }
	nd_run - "$rob" join >"$rob.code" 2>&1
	code=$(sed -n 's/^Full code: //p' "$rob.code")
	[ -n "$code" ] || { echo "FAIL: no code: $(cat "$rob.code")"; exit 1; }
	nd_start - "$matt" "$matt.out" join "$code" --port "$mport" --name matt
	matt_pid=$nd_pid
	nd_wait 20 "both connected" nd_both_connected - "$rob" - "$matt" || { bad "[$addr]: not connected"; tail -n 20 "$rob.log" "$matt.out"; }
	counted() { n=$(refused "$matt" "$reason"); [ "$n" != absent ] && [ "$n" -ge 1 ]; }
	nd_wait 10 "matt counts the $reason candidate" counted ||
		bad "[$addr]: matt's candidates_refused.$reason is '$(refused "$matt" "$reason")', want >= 1"
	[ "$(refused "$rob" "$reason")" = 0 ] || bad "[$addr]: rob counted a refusal it never saw: $(refused "$rob" "$reason")"
	grep -qF "candidate [$addr]:$rport refused: $reason" "$matt.out" || bad "[$addr]: matt's log does not say it refused it"
	case " $(rob_cands "$matt") " in *" [$addr]:$rport "*) bad "[$addr]: matt lists it among rob's candidates" ;; esac
	nd_flows - "$rob" - "$matt" "hostile$run" 15 >/dev/null || bad "[$addr]: messages do not flow"
	kill -0 "$matt_pid" 2>/dev/null || bad "[$addr]: matt's node died"
	echo "[$addr]: refused as $reason ($(refused "$matt" "$reason") times), messages flow"
	nd_kill "$rob_pid" "$matt_pid"
done
exit $fail

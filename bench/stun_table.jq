# bench/stun_table.jq: the STUN section's table, from the array of
# `atmosphere-bench stun --json` objects bench/run collects. Tab-separated:
# figure, ours, coturn, reflector, ratio, target, met. Medians over rounds.
# The reflector is atmosphere-bench's minimal STUN server (one send per
# answer, nothing checked): a reference, not an upper bound.

def median: map(select(. != null)) | sort |
  if length == 0 then null
  elif length % 2 == 1 then .[(length / 2) | floor]
  else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def fmt($p): if . == null then "-" else (. * pow(10; $p) | round) / pow(10; $p) | tostring end;
def pick($l; $mode): map(select(.label == $l and .mode == $mode));
def med($l; $mode; f): pick($l; $mode) | map(f) | median;
def ratio($a; $b): if $a == null or $b == null or $b == 0 then null else $a / $b end;
def met($ok): if $ok == null then "-" elif $ok then "yes" else "NO" end;
def row($fig; $o; $c; $x; $ratio; $p; $target; $ok):
  [$fig, ($o | fmt($p)), ($c | fmt($p)), ($x | fmt($p)), ($ratio | fmt(3)), $target, met($ok)] | join("\t");
def us_per_answer: if .server_cpu == null or .answers_per_s == 0 then null else .server_cpu * 1e6 / .answers_per_s end;

. as $all
| ["figure", "ours", "coturn", "reflector", "ratio", "target", "met"] | join("\t"),
  ( [$all | med("ours"; "max"; .answers_per_s), med("coturn"; "max"; .answers_per_s),
            med("reflector"; "max"; .answers_per_s)] as [$o, $c, $x]
    | row("Binding answers/s, one server core (max)"; $o; $c; $x; ratio($o; $c); 0; ">= 3x coturn";
          if $o == null or $c == null then null else $o >= 3 * $c end) ),
  ( [$all | med("ours"; "max"; us_per_answer), med("coturn"; "max"; us_per_answer),
            med("reflector"; "max"; us_per_answer)] as [$o, $c, $x]
    | row("server CPU us per answer (max)"; $o; $c; $x; ratio($o; $c); 2; "reported"; null) ),
  ( [$all | med("ours"; "max"; .loss_pct), med("coturn"; "max"; .loss_pct), med("reflector"; "max"; .loss_pct)]
    as [$o, $c, $x]
    | row("loss % (max)"; $o; $c; $x; null; 3; "reported"; null) ),
  ( ($all | map(select(.mode == "paced")) | .[0].rate // "-") as $rate
    | (["p50_us", "p50"], ["p99_us", "p99"]) | . as [$k, $kn]
    | [$all | med("ours"; "paced"; .latency[$k]), med("coturn"; "paced"; .latency[$k]),
              med("reflector"; "paced"; .latency[$k])] as [$o, $c, $x]
    | row("latency \($kn) us at \($rate)/s (from the schedule)"; $o; $c; $x; ratio($o; $c); 1; "reported"; null) ),
  ( [$all | med("ours"; "paced"; .loss_pct), med("coturn"; "paced"; .loss_pct), med("reflector"; "paced"; .loss_pct)]
    as [$o, $c, $x]
    | row("loss % (paced)"; $o; $c; $x; null; 3; "0"; if $o == null then null else $o == 0 end) ),
  ( [$all | med("ours"; "max"; .bench_cpu), med("coturn"; "max"; .bench_cpu), med("reflector"; "max"; .bench_cpu)]
    as [$o, $c, $x]
    | row("load generator CPU busy (max), in CPUs"; $o; $c; $x; null; 2; "< 1: else the generator limits"; null) ),
  ( [$all | med("ours"; "max"; .server_cpu), med("coturn"; "max"; .server_cpu), med("reflector"; "max"; .server_cpu)]
    as [$o, $c, $x]
    | row("server CPU busy (max), in CPUs"; $o; $c; $x; null; 2; "1: the server limits"; null) )

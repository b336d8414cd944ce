#!/usr/bin/env bash
# Every benchmark under benches/ in a quick form (about 3 minutes on the 2-core dev box once
# built), then one combined table: bench, measure, value, target. Targets are those of the
# full forms (issue 12); quick forms use smaller sizes, so compare with care.
#
#   scripts/bench.sh               quick forms, combined table
#   scripts/bench.sh full          print the documented full-form commands
#   scripts/bench.sh full --run    run the full forms (tens of minutes), combined table
#
# Needs PostgreSQL on 127.0.0.1:5432 (rest_send, rest_history, member_query), node and npm
# for room_vs_soketi (scripts/soketi-install.sh), python3 for the table. Raw outputs stay in
# $BENCH_OUT (default a temporary folder, printed at the end).
set -uo pipefail
cd "$(dirname "$0")/.."

# One row per benchmark, in run order: the arguments both forms share, then what the quick
# form and the full form add (arguments are order-free `--key value` pairs and flags).
FORMS_TABLE='
rest_send         | --backends sqlite,postgres --senders 64 --conversations 1000 | --warmup 1 --duration 4 | --warmup 2 --duration 10
rest_history      | --backends sqlite,postgres | --messages 100000 --requests 200 --warmup-requests 20 | --messages 1000000 --requests 500 --warmup-requests 50
member_query      | --backends sqlite,postgres | --conversations 20000 --clients 5000 --queries 300 --warmup-queries 30 | --conversations 100000 --clients 20000 --queries 1000
ws_load           | | --connections 2000 --members 1000 --samples 40 --seconds 3 | --connections 10000 --members 2000 --samples 200 --seconds 10
ws_acks           | --members 500 --rate 200 --pin | --seconds 5 | --seconds 10
service_broadcast | | --subscribers 10000 --online 2000 --samples 3 | --subscribers 100000 --online 10000 --samples 5
room_vs_soketi    | --members 2000 | --samples 40 --warmup 5 --backends tidings,soketi | --samples 200 --runs 3 --backends tidings,tidings-transient,soketi
'
declare -A QUICK FULL
ORDER=()
while IFS='|' read -r bench shared quick full; do
  bench="${bench// /}"
  [ -n "$bench" ] || continue
  ORDER+=("$bench")
  # shellcheck disable=SC2086 # word splitting squeezes the table's spaces
  QUICK[$bench]="$(echo $shared $quick)"
  # shellcheck disable=SC2086
  FULL[$bench]="$(echo $shared $full)"
done <<<"$FORMS_TABLE"

mode="${1:-quick}"
if [ "$mode" = full ] && [ "${2:-}" != --run ]; then
  echo "Full forms (docs/benchmarks.md, docs/benchmarks-soketi.md); ulimit -n above 10,000:"
  for bench in "${ORDER[@]}"; do
    echo "  cargo bench --bench $bench -- ${FULL[$bench]}"
  done
  echo "  cargo bench --bench ws_acks -- --members 500 --rate 400 --seconds 10 --pin"
  echo "Run them all with: scripts/bench.sh full --run"
  exit 0
fi
if [ "$mode" = full ]; then declare -n FORMS=FULL; else declare -n FORMS=QUICK; fi

out="${BENCH_OUT:-$(mktemp -d -t tidings-bench-XXXXXX)}"
mkdir -p "$out"
ulimit -n 20000 2>/dev/null || true
echo "building the benchmarks (release)..." >&2
# Only the bench targets (`--benches` would also build the library's own test harness).
targets=()
for bench in "${ORDER[@]}"; do targets+=(--bench "$bench"); done
cargo bench "${targets[@]}" --no-run >"$out/build.log" 2>&1 || { tail -20 "$out/build.log"; exit 1; }
started=$(date +%s)
for bench in "${ORDER[@]}"; do
  echo "== $bench ${FORMS[$bench]}" >&2
  t0=$(date +%s)
  # shellcheck disable=SC2086 # the forms are word lists on purpose
  if cargo bench -q --bench "$bench" -- ${FORMS[$bench]} >"$out/$bench.txt" 2>"$out/$bench.err"; then
    echo "   $(($(date +%s) - t0)) s" >&2
  else
    echo "   FAILED after $(($(date +%s) - t0)) s (see $out/$bench.err)" >&2
    echo "FAILED" >>"$out/$bench.txt"
  fi
done
echo "all benchmarks: $(($(date +%s) - started)) s; load now $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 - "$out" "${ORDER[@]}" <<'PY'
# Reads each benchmark's Markdown tables and prints the key numbers as one table.
import os, re, sys

out, benches = sys.argv[1], sys.argv[2:]

def tables(text):
    """[(title, [row dicts])] for every block of `| ... |` lines; title = line above."""
    found, lines = [], text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("|"):
            title = next((l for l in reversed(lines[:i]) if l.strip()), "")
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append([c.strip() for c in lines[i].strip().strip("|").split("|")])
                i += 1
            block = [r for r in block if not all(re.fullmatch(r"-*:?", c) for c in r)]
            head, rows = block[0], block[1:]
            found.append((title, [dict(zip(head, r)) for r in rows]))
        else:
            i += 1
    return found

# bench: [(title contains, label(row), value column, target)]
PICK = {
    "rest_send": [("REST send", lambda r: f"msgs/s {r['backend']} (p99 {r['p99 ms']} ms, {r['verified']})", "msgs/s", ">= 10,000")],
    "rest_history": [("REST history", lambda r: f"page p99 ms {r['backend']} {r['position']}", "p99 ms", "< 5 (1M msgs)")],
    "member_query": [("Member query", lambda r: f"query p99 ms {r['backend']}", "p99 ms", "< 5 (100k convs)")],
    "ws_load": [
        ("memory per idle", lambda r: f"bytes/idle conn ({r['connections']})", "bytes/conn", "<= 4,096 (10k)"),
        ("REST send -> last", lambda r: f"room last p99 ms, {r['message']} ({r['online members']})", "last p99", "-"),
        ("fan-out throughput", lambda r: f"deliveries/s {r['message']}", "deliveries/s", "-"),
    ],
    "ws_acks": [
        ("acking each message", lambda r: f"acked deliveries/s (missing {r['missing']})", "deliveries/s", ">= 100,000"),
        ("acking each message", lambda r: "acked delivery p99", "p99", "<= 100 ms"),
    ],
    "room_vs_soketi": [
        ("REST send -> last delivery", lambda r: f"room p99 ms {r['backend']} run {r['run']} (load tool floor {r['load-tool floor ms']} ms)", "last p99", "-"),
        ("against Soketi", lambda r: f"p99 / Soketi p99, {r['backend']} run {r['run']}", "ratio", "<= 0.50"),
    ],
}

rows = []
for bench in benches:
    path = os.path.join(out, bench + ".txt")
    text = open(path).read() if os.path.exists(path) else "FAILED"
    if "FAILED" in text.splitlines():
        rows.append((bench, "run failed (see .err)", "-", "-"))
        continue
    found = tables(text)
    if bench == "service_broadcast":
        for _, rs in found:
            for r in rs:
                key = next((k for k in r if k.startswith("last of")), None)
                if key:
                    rows.append((bench, key, r[key], "-"))
        continue
    for title_part, label, column, target in PICK.get(bench, []):
        for title, rs in found:
            if title_part in title:
                for r in rs:
                    try:
                        rows.append((bench, label(r), r.get(column, "?"), target))
                    except KeyError:
                        rows.append((bench, title, "?", target))

head = ("bench", "measure", "value", "target")
widths = [max(len(str(x[i])) for x in rows + [head]) for i in range(4)]
line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
print()
print(line(head))
print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
for r in rows:
    print(line(r))
PY
echo "raw outputs: $out" >&2

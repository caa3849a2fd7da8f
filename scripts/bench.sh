#!/usr/bin/env bash
# make bench: run the benchmarks of the packages given, print them as they
# come, and keep the whole output in OUT (docs/bench.txt, the record that
# make cost reads) only when every benchmark passed.
#   scripts/bench.sh OUT PACKAGE...
set -euo pipefail
out=$1
shift
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
{
  echo "# make bench: $(date -u +%Y-%m-%d), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
  go test -run '^$' -bench . -benchmem -count 1 "$@"
} 2>&1 | tee "$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "bench: results kept in $out"

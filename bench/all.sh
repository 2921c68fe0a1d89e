#!/usr/bin/env bash
# Every bench behind docs/benchmarks.md's table, one after another in one session, so the
# table's rows are measured on the same machine in the same state (issue 27 part 5).
#
#   bash bench/all.sh [OUT_DIR]      # default: bench-results/<UTC time>
#
# Each bench's output goes to OUT_DIR/<bench>.txt, headed by the machine's load average
# when it began; OUT_DIR/summary.txt lists each with its seconds and exit code. Takes about
# 40 minutes on a quiet 2-core machine (1000 sites three times, a 1 GB site, 20 s of load). Run it on
# a quiet host: other work on the same cores inflates every figure.
set -u
cd "$(dirname "$0")/.."
out=${1:-bench-results/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
py=.venv/bin/python
benches=(
  "engine_calls|"
  "api_calls|"
  "git_calls|"
  "stats_round|200"
  "metrics_scrape|1000"
  "oom_check|1000"
  "events|--cycles 40"
  "load|--seconds 20"
  "backup-200|--mb 200"
  "backup-1000|--mb 1000 --repeat 1"
  "scale|1000"
  "engine_growth|1000 --keep"
  "idle_calls|1000"
  "transfer|--mb 1000"
  "ui_requests|1000 10 2"
)
echo "bench session $(date -u +%FT%TZ) on $(hostname), $(nproc) cores, $(git rev-parse --short HEAD)" | tee "$out/summary.txt"
for entry in "${benches[@]}"; do
  name=${entry%%|*}
  args=${entry#*|}
  script=bench/${name%%-*}.py
  t0=$(date +%s)
  {
    echo "# $script $args  ($(date -u +%T) UTC, load average: $(cut -d' ' -f1-3 /proc/loadavg))"
    # shellcheck disable=SC2086  # the arguments are words
    $py "$script" $args
  } >"$out/$name.txt" 2>&1
  rc=$?
  printf '%-14s %5s s  exit %s\n' "$name" "$(($(date +%s) - t0))" "$rc" | tee -a "$out/summary.txt"
done

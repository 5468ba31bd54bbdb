#!/bin/bash
# The benches of this folder for two versions of the app, taking turns (BEFORE, AFTER,
# BEFORE, AFTER), so that the machine's drift falls on both: how issue 19's "before and
# after" table in README.md was made.
#
#   bench/compare.sh BEFORE_CHECKOUT AFTER_CHECKOUT [OUT_DIR]
#   SIZE=tiny bench/compare.sh ...                      # the smallest sizes: does every run work?
#   ONLY="mpesa-sqlite load-pg" bench/compare.sh ...    # some benches only
#   PG=postgresql+psycopg://.../DB bench/compare.sh ... # a database whose public schema may be dropped
#
# Each checkout runs its own bench/ files with its own .venv (make install there first),
# the same sizes and seeds. Each run's output, after a header of ## lines (the code, the
# command, the load average, and at the end the exit status and wall time), goes to
# OUT_DIR/<bench>-<before|after>-<n>.txt (default bench/out/compare). Nothing is asserted:
# read the figures side by side, the spread between the two runs of one version is the noise.
set -u
[ $# -ge 2 ] || { sed -n 2,16p "$0"; exit 2; }
BEFORE=$(cd "$1" && pwd) || exit 2
AFTER=$(cd "$2" && pwd) || exit 2
OUT=${3:-$(cd "$(dirname "$0")" && pwd)/out/compare}
PG=${PG:-postgresql+psycopg://postgres@127.0.0.1:54329/association_bench}
SIZE=${SIZE:-full}
ONLY=${ONLY:-mpesa-sqlite mpesa-pg ledger-sqlite ledger-pg load-pg}
mkdir -p "$OUT"

if [ "$SIZE" = tiny ]; then
  MPESA="--confirmations 50"
  LEDGER="--members 60 --months 3"
  LOAD="--duration 3 --soak 0 --think 1000,100"
else
  MPESA="--confirmations 3000"                      # + 600 repeats: 10-20 s a run
  LEDGER="--members 2000 --months 24"               # seed 2026 (the default) for both
  LOAD="--duration 20 --soak 0 --think 1000,100"    # baseline, saturated, two paced runs
fi
LEDGER_ONLY="--only dues,trial_balance,statement,arrears,receipts"
# No database URL or app settings from the caller's environment; the same hash seed for all.
ENV="env -u BENCH_DATABASE_URL -u DATABASE_URL -u TEST_DATABASE_URL -u APP_ENV -u FLASK_APP PYTHONHASHSEED=0"

command_of() {  # bench -> its command line, run from the checkout's root
  case $1 in
    mpesa-sqlite)  echo ".venv/bin/python bench/mpesa_callbacks.py $MPESA" ;;
    mpesa-pg)      echo ".venv/bin/python bench/mpesa_callbacks.py $MPESA --database-url $PG" ;;
    ledger-sqlite) echo ".venv/bin/python bench/ledger.py $LEDGER $LEDGER_ONLY" ;;
    ledger-pg)     echo ".venv/bin/python bench/ledger.py $LEDGER $LEDGER_ONLY --database-url $PG" ;;
    load-pg)       echo ".venv/bin/python bench/load.py $LOAD --database-url $PG" ;;
  esac
}

one() {  # bench, before|after, n
  local bench=$1 side=$2 n=$3 root file cmd started rc
  [ "$side" = before ] && root=$BEFORE || root=$AFTER
  file=$OUT/$bench-$side-$n.txt
  cmd=$(command_of "$bench")
  started=$(date +%s)
  {
    echo "## $bench $side $n ($SIZE): $root at $(git -C "$root" rev-parse --short HEAD 2>/dev/null)"
    echo "## $(date -u '+%F %T UTC'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "## cd $root && $ENV $cmd"
  } > "$file"
  (cd "$root" && $ENV $cmd) >> "$file" 2>&1
  rc=$?
  echo "## exit $rc after $(( $(date +%s) - started )) s; load average $(cut -d' ' -f1-3 /proc/loadavg)" >> "$file"
  echo "$(date -u '+%T') $bench $side $n: exit $rc, $(( $(date +%s) - started )) s"
}

echo "$(date -u '+%F %T UTC') compare.sh ($SIZE): $ONLY"
for bench in $ONLY; do
  for n in 1 2; do
    one "$bench" before "$n"
    one "$bench" after "$n"
  done
done
echo "$(date -u '+%F %T UTC') done: $OUT"

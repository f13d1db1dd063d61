#!/bin/sh
# run.sh - `make fuzz`: run each fuzz target for SECONDS and report, per
# target, the executions, the coverage before and after (libFuzzer's
# "cov:", edges reached) and what it found.
#   fuzz/run.sh BUILD SECONDS [TARGET...]     (default: every target)
# Seeds come from fuzz/corpus/TARGET (read only); new inputs go to
# BUILD/fuzz-corpus/TARGET, crashes to BUILD/fuzz-crashes/TARGET, the
# log to BUILD/fuzz-logs/TARGET.log. A crash: minimize it (docs/FUZZING.md)
# and add it to fuzz/crashes/TARGET so that `ctest -L fuzz` replays it.
# Exit status 1 when any target found something.
set -u

BUILD=${1:?usage: fuzz/run.sh BUILD SECONDS [TARGET...]}
SECONDS_EACH=${2:?usage: fuzz/run.sh BUILD SECONDS [TARGET...]}
shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
TARGETS=${*:-"config endpoint units ctl daemon broker sync cli_input wire_null"}
# FUZZ_ARGS: more libFuzzer options, e.g. FUZZ_ARGS=-jobs=2
FUZZ_ARGS=${FUZZ_ARGS:-}

found=0
printf '%-10s %10s %8s %8s %8s %6s %8s\n' target runs exec/s cov0 cov1 \
    new findings
for t in $TARGETS; do
    exe="$BUILD/fuzz/fuzz_$t"
    corpus="$BUILD/fuzz-corpus/$t"
    crashes="$BUILD/fuzz-crashes/$t"
    log="$BUILD/fuzz-logs/$t.log"
    seeds="$HERE/corpus/${t%_null}"
    [ -d "$HERE/corpus/$t" ] && seeds="$HERE/corpus/$t"
    # The wire targets share one corpus (fuzz/CMakeLists.txt).
    case $t in wire_*) seeds="$HERE/corpus/wire_null" ;; esac
    mkdir -p "$corpus" "$crashes" "$(dirname "$log")"
    dict=""
    [ -f "$HERE/dict/$t.dict" ] && dict="-dict=$HERE/dict/$t.dict"
    before=$(ls "$crashes" | wc -l)
    # shellcheck disable=SC2086
    "$exe" -max_total_time="$SECONDS_EACH" -print_final_stats=1 \
        -max_len=4096 -timeout=60 -rss_limit_mb=2048 \
        -artifact_prefix="$crashes/" $dict $FUZZ_ARGS \
        "$corpus" "$seeds" >"$log" 2>&1
    rc=$?
    after=$(ls "$crashes" | wc -l)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    new=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
    cov0=$(sed -n 's/.*INITED cov: \([0-9]*\).*/\1/p' "$log" | head -1)
    cov1=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' "$log" | tail -1)
    findings=$((after - before))
    if [ "$rc" -ne 0 ] && [ "$findings" -eq 0 ]; then
        findings="rc=$rc"
    fi
    printf '%-10s %10s %8s %8s %8s %6s %8s\n' "$t" "${runs:-?}" \
        "${rate:-?}" "${cov0:-?}" "${cov1:-?}" "${new:-?}" "$findings"
    if [ "$findings" != 0 ]; then
        found=1
        echo "  $t: see $log and $crashes/" >&2
    fi
done
exit $found

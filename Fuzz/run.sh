#!/usr/bin/env bash
# Builds the libFuzzer targets and runs them for a bounded time (see Fuzz/README.md).
#
#   Fuzz/run.sh [--no-build] <frame|message|scenario|doctor|all> <seconds> [libFuzzer flags…]
#
# Each target runs alone (one after the other for `all`) with -max_total_time=<seconds>.
# Work corpus: fuzz-out/<target>/corpus (new units land there; the committed seeds in
# Fuzz/corpus/<target>/ are read too, never written). Crash, leak, timeout and OOM inputs go
# to fuzz-out/<target>/crashes/, libFuzzer's output to fuzz-out/<target>/log.txt. fuzz-out/
# is ignored by git. After each run one summary line is printed:
#
#   <target>: <s>s execs=<n> exec/s=<n> cov=<n> ft=<n> corpus=<files> (+<new>) rss=<MB>MB crashes=<n>
#
# Exit status: non-zero if the build failed or any run left a crash artifact.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
scratch="$here/.build-fuzz"
targets=(frame message scenario doctor)

usage() {
    sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    echo
    echo "Targets: frame (FrameDecoder and FrameReader, any chunking), message (MessageCodec / StrictJSONParser),"
    echo "scenario (ScenarioDecoder on Fixtures-style JSON), doctor (DoctorMachine scripts with"
    echo "invariant checks). Build: swift build -c release with -sanitize=fuzzer,address into"
    echo "Fuzz/.build-fuzz. Regenerate the seed corpora with Fuzz/make-corpus.py."
}

build=1
if [ "${1:-}" = "--no-build" ]; then build=0; shift; fi
case "${1:-}" in
    -h|--help|"") usage; exit 0 ;;
esac
[ $# -ge 2 ] || { usage >&2; exit 2; }
which="$1"; seconds="$2"; shift 2
case "$which" in
    all) selected=("${targets[@]}") ;;
    frame|message|scenario|doctor) selected=("$which") ;;
    *) echo "unknown target: $which" >&2; exit 2 ;;
esac

if [ "$build" = 1 ]; then
    (cd "$here" && swift build -c release --scratch-path "$scratch" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -g 2>&1 | grep -v "Cannot export local symbol")
    [ "${PIPESTATUS[0]}" = 0 ] || exit 1
fi
bin="$(cd "$here" && swift build -c release --scratch-path "$scratch" --show-bin-path \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -g)"

max_len() {
    case "$1" in
        scenario) echo 40000 ;;
        *) echo 8192 ;;
    esac
}

status=0
for target in "${selected[@]}"; do
    out="$root/fuzz-out/$target"
    mkdir -p "$out/corpus" "$out/crashes"
    before=$(find "$out/corpus" -type f | wc -l)
    dict=()
    [ -f "$here/dict/$target.dict" ] && dict=(-dict="$here/dict/$target.dict")
    SWIFT_BACKTRACE=enable=no "$bin/fuzz-$target" "$out/corpus" "$here/corpus/$target" \
        -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -max_len="$(max_len "$target")" \
        -artifact_prefix="$out/crashes/" "${dict[@]}" "$@" > "$out/log.txt" 2>&1 || true
    log="$out/log.txt"
    last=$(grep -aE '^#[0-9]+' "$log" | tail -1 || true)
    stat() { grep -a "^stat::$1:" "$log" | awk '{print $2}' | tail -1; }
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last"); ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    files=$(find "$out/corpus" -type f | wc -l)
    crashes=$(find "$out/crashes" -type f | wc -l)
    echo "$target: ${seconds}s execs=$(stat number_of_executed_units) exec/s=$(stat average_exec_per_sec)" \
        "cov=${cov:-?} ft=${ft:-?} corpus=$files (+$((files - before))) rss=$(stat peak_rss_mb)MB crashes=$crashes"
    if [ "$crashes" != 0 ]; then
        status=1
        grep -aE 'invariant violated|Fatal error|ERROR: |SUMMARY' "$log" | head -5 | sed "s/^/  $target: /"
    fi
done
exit "$status"

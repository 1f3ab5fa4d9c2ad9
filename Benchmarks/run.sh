#!/usr/bin/env bash
# The performance suite in one command (see the Performance article of the TelemedProtocol
# DocC catalogue, Sources/TelemedProtocol/TelemedProtocol.docc/Performance.md):
#
#   Benchmarks/run.sh [--quick] [--patients N] [--tcp-patients N] [--tcp-storm-patients N] [--flood-patients N] [--ordo]
#
# Builds the Benchmarks package in release (scratch dir Benchmarks/.build-bench, ignored by
# git), runs telemed-perf, which prints the table (median and p99 per row), the handshake
# ratios against the plain-GMP baseline with PASS/FAIL per target and the system figures,
# writes Benchmarks/results/latest.md and latest.json, and regenerates the tables between the
# perf-results markers of that article (README.md keeps a short summary, updated by hand).
# --ordo also runs the same micro benchmarks under ordo-one/benchmark (malloc counts) and
# writes its Markdown report to Benchmarks/results/ordo/latest.md.
# Exit status: non-zero if the build failed or any target ratio FAILed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
scratch="$here/.build-bench"
ordo=0
args=()
for arg in "$@"; do
    case "$arg" in
        --ordo) ordo=1 ;;
        *) args+=("$arg") ;;
    esac
done

cd "$here"
swift build -c release --scratch-path "$scratch" --product telemed-perf
status=0
"$scratch/release/telemed-perf" --out "$here/results" \
    --fixtures "$root/Fixtures" --splice "$root/Sources/TelemedProtocol/TelemedProtocol.docc/Performance.md" "${args[@]+"${args[@]}"}" || status=$?

if [ "$ordo" = 1 ]; then
    mkdir -p "$here/results/ordo"
    swift package --scratch-path "$scratch" benchmark --format markdown --path stdout --no-progress \
        | sed 's/\x1b\[[0-9;]*m//g' > "$here/results/ordo/latest.md" || status=$?
fi
exit "$status"

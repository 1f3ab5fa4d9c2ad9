#!/usr/bin/env bash
# The soak run in one command (a documented run, not part of `swift test`):
#
#   Benchmarks/soak.sh [--minutes M] [--patients N] [--attackers A] [--seed S] [--quick] [--help]
#
# Builds telemed-soak in release (scratch dir Benchmarks/.build-bench, as run.sh), then runs a
# doctor on 127.0.0.1 for M minutes (default 5; --quick: 1) while N honest patients (default
# 200) churn and A attackers (default 4) attack from other loopback addresses. Prints the
# memory table and the verdict, and writes Benchmarks/results/soak-latest.md and .json.
# Exit status: 0 when every check passed, 1 when one failed, 2 on a usage or build error.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
scratch="$here/.build-bench"

for arg in "$@"; do
    if [ "$arg" = "--help" ] || [ "$arg" = "-h" ]; then
        sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        if [ -x "$scratch/release/telemed-soak" ]; then
            echo
            "$scratch/release/telemed-soak" --help
        fi
        exit 0
    fi
done

cd "$here"
swift build -c release --scratch-path "$scratch" --product telemed-soak >&2 || exit 2
exec "$scratch/release/telemed-soak" --out "$here/results" "$@"

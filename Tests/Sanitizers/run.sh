#!/usr/bin/env bash
# Runs the whole test suite under a sanitizer, in its own build directory.
#
#   Tests/Sanitizers/run.sh address [swift test options...]   # AddressSanitizer + LeakSanitizer
#   Tests/Sanitizers/run.sh thread  [swift test options...]   # ThreadSanitizer
#
# Extra options go to `swift test`, e.g. `--filter TelemedNodeTests`. The spawned `doctor` and
# `patient` executables of the executable tests are built with the same sanitizer and inherit
# its options. Exit status is swift test's: non-zero on a test failure or a sanitizer report.
set -euo pipefail

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
case "${1:-}" in
  address)
    shift
    # Suppressions cover false positives of the Swift runtime, Foundation and XCTest only.
    export LSAN_OPTIONS="suppressions=$root/Tests/Sanitizers/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
    export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
    exec swift test --sanitize=address --scratch-path .build-asan "$@"
    ;;
  thread)
    shift
    export TSAN_OPTIONS="halt_on_error=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
    exec swift test --sanitize=thread --scratch-path .build-tsan "$@"
    ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac

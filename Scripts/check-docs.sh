#!/usr/bin/env bash
# Builds the DocC documentation of every library product and fails on any warning.
#
#   Scripts/check-docs.sh
#
# Runs `swift package generate-documentation` (swift-docc-plugin) for the seven library targets
# and greps its output for DocC warnings: an unresolved <doc:…> article link or ``symbol`` link,
# a link to a heading that does not exist, a documented parameter that is not there. Only these
# targets are checked: without --target the plugin also documents every dependency (GRDB,
# swift-system, …), whose own warnings are not this package's to fix.
# The catalogues are Sources/<Module>/<Module>.docc and
# Simulations/TelemedSimulation/TelemedSimulation.docc; the output goes to .build/plugins/.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(TelemedProtocol TelemedCrypto TelemedBigInt TelemedTransport TelemedTCP TelemedNode TelemedSimulation)
args=()
for target in "${targets[@]}"; do args+=(--target "$target"); done

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
swift package generate-documentation "${args[@]}" >"$log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
    cat "$log"
    echo "check-docs: generate-documentation failed (exit $status)" >&2
    exit 1
fi
# A DocC diagnostic starts with "warning:" and is followed by its "--> file:line" location.
if grep -q '^warning:' "$log"; then
    grep -A2 '^warning:' "$log"
    echo "check-docs: $(grep -c '^warning:' "$log") documentation warning(s)" >&2
    exit 1
fi
echo "check-docs: documentation of ${#targets[@]} products built without warnings"

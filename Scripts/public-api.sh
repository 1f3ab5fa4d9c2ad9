#!/usr/bin/env bash
# Lists the public API of every library product and fails when a test-only entry point is in it.
#
#   Scripts/public-api.sh            check (exit 1 and the offending lines on a finding)
#   Scripts/public-api.sh --list     also print every public symbol, per product
#
# The symbol graphs come from `swift package dump-symbol-graph` at its default: public and open
# declarations, without SPI. So what it lists is exactly what a program that depends on a
# product and imports it normally can call; `@_spi(Testing)` and `package` declarations are
# absent by construction. The lists are also written to .build/public-api/<Module>.txt.
#
# A finding is any of:
#   - a public symbol whose name (any path component) contains a test-only word: KnownAnswer,
#     TestsOnly, Seeded, SplitMix, Scripted, Montgomery, FixedBase, multiPow, ManualTimer,
#     Mutant, ForTesting;
#   - a public declaration with an explicit-secret parameter: `ephemeral`, `extraEntropy`,
#     explicit `k:` or `x:` labels;
#   - a public declaration that accepts a plain `RandomNumberGenerator` (the cryptographic
#     marker protocol is required wherever a generator goes in);
#   - a production target (anything under Sources/ except TelemedCrypto, which builds on the
#     Montgomery layer) that imports a module's Testing SPI.
# Needs jq. Costs about 30 s on a built tree.
set -euo pipefail
cd "$(dirname "$0")/.."

products=(TelemedBigInt TelemedCrypto TelemedProtocol TelemedTransport TelemedTCP TelemedNode TelemedSimulation)
list=false
[ "${1:-}" = "--list" ] && list=true

command -v jq >/dev/null || { echo "public-api: jq is required" >&2; exit 2; }

if ! log=$(swift package dump-symbol-graph 2>&1); then echo "$log" >&2; exit 2; fi
graphs="$(swift build --show-bin-path)/../symbolgraph"
out=.build/public-api
mkdir -p "$out"

names='KnownAnswer|TestsOnly|Seeded|SplitMix|Scripted|Montgomery|FixedBase|multiPow|ManualTimer|Mutant|ForTesting'
secrets='\b(ephemeral|extraEntropy)\b|[(,] ?(k|x): '
failed=0
for module in "${products[@]}"; do
    files=("$graphs/$module.symbols.json")
    for extra in "$graphs/$module"@*.symbols.json; do [ -e "$extra" ] && files+=("$extra"); done
    [ -e "${files[0]}" ] || { echo "public-api: no symbol graph for $module" >&2; exit 2; }
    jq -r '.symbols[] | (.pathComponents | join(".")) + "\t"
        + ([.declarationFragments[]?.spelling] | join("") | gsub("\\s+"; " "))' "${files[@]}" \
        | LC_ALL=C sort -u > "$out/$module.txt"
    $list && { echo "== $module"; cat "$out/$module.txt"; }
    hits=$( { cut -f1 "$out/$module.txt" | grep -nE "$names" || true
              cut -f2 "$out/$module.txt" | grep -nE "$secrets" || true
              cut -f2 "$out/$module.txt" | grep -nE '(^|[^A-Za-z])RandomNumberGenerator\b' \
                  | grep -vE '^[0-9]+:protocol CryptographicRandomNumberGenerator : RandomNumberGenerator$' || true
            } | cut -d: -f1 | sort -un )
    count=$(wc -l < "$out/$module.txt")
    if [ -n "$hits" ]; then
        echo "public-api: $module exposes test-only entry points:"
        while IFS= read -r line; do sed -n "${line}p" "$out/$module.txt" | sed 's/^/    /'; done <<< "$hits"
        failed=1
    else
        echo "public-api: $module: $count public symbols, no test-only entry point"
    fi
done

spi=$(grep -rnE '@_spi\(Testing\)( @[a-z]+)* import' Sources --include='*.swift' | grep -v '^Sources/TelemedCrypto/' || true)
if [ -n "$spi" ]; then
    echo "public-api: production code imports the Testing SPI:"
    echo "$spi" | sed 's/^/    /'
    failed=1
fi
exit $failed

// The property check of the tests: swift-property-based's `propertyCheck`, with its replay seed
// carried by TELEMED_SEED (see ReplaySeed.swift), so that a failing property check replays the
// same way as every other seeded test.
//
// Without TELEMED_SEED, the library draws `count` inputs from fresh random seeds, shrinks the
// first failing input and reports it with its seed; this wrapper rewrites the library's
// "Add `.fixedSeed(…)` to the Test" advice into the replay line
//
//     replay: TELEMED_SEED=<library seed> swift test --filter <Suite>/<test>
//
// With TELEMED_SEED set to such a seed, only that one input runs, under the library's fixed-seed
// scope (which also reports it if the input no longer fails).

import PropertyBased
import Testing

/// Checks `body` on `count` inputs drawn from `input` (swift-property-based's `propertyCheck`,
/// shrinking included); a failure prints its replay line, and `TELEMED_SEED` replays it.
/// Call it from a Swift Testing `@Test`.
public func forAll<Input, Value>(
    count: Int,
    _ input: Generator<Value, some Sequence<Input>>,
    sourceLocation: SourceLocation = #_sourceLocation,
    perform body: (Value) async throws -> Void
) async {
    guard let test = Test.current else {
        Issue.record("forAll runs inside a Swift Testing @Test only", sourceLocation: sourceLocation)
        return
    }
    let replay: (UInt64, UInt64, UInt64, UInt64)?
    do {
        replay = try ReplaySeed.currentPropertySeed()
    } catch {
        Issue.record("\(error)", sourceLocation: sourceLocation)
        return
    }
    await withoutActuallyEscaping(body) { body in
        // An error thrown by the body is a failing input like any other.
        nonisolated(unsafe) let check: (Value) async -> Void = { value in
            do { try await body(value) } catch { Issue.record(error, sourceLocation: sourceLocation) }
        }
        if let replay {
            // The library's own fixed-seed scope: one input, reported even when it passes.
            await FixedSeedTrait.fixedSeed(replay.0, replay.1, replay.2, replay.3, sourceLocation: sourceLocation)
                .provideScope(for: test, testCase: Test.Case.current) {
                    await propertyCheck(count: count, input: input, perform: check, sourceLocation: sourceLocation)
                }
            return
        }
        let name = ReplaySeed.name(of: test)
        let rewrite = IssueHandlingTrait.compactMapIssues { issue in
            var issue = issue
            issue.comments = issue.comments.map {
                Comment(rawValue: ReplaySeed.replacingLibraryAdvice(in: $0.rawValue, test: name))
            }
            return issue
        }
        try? await rewrite.provideScope(for: test, testCase: Test.Case.current) {
            await propertyCheck(count: count, input: input, perform: check, sourceLocation: sourceLocation)
        }
    }
}

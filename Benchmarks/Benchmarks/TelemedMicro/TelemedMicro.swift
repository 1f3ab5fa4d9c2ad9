// The suite's micro benchmarks under ordo-one/benchmark, with its malloc counters
// (`swift package --scratch-path .build-bench benchmark` in Benchmarks/). The same closures
// as telemed-perf's table; telemed-perf remains the source of the Performance article's tables and ratios.

import Benchmark
import TelemedBenchKit
import TelemedCrypto

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident],
        timeUnits: .microseconds,
        maxDuration: .seconds(1),
        maxIterations: 2_000)
    var workloads: [MicroWorkload] = []
    for group in [TelemedGroup.telemed2048, TelemedGroup.telemed3072] {
        workloads += MicroWorkloads.asymmetric(group, .accelerated)
        workloads += MicroWorkloads.asymmetric(group, .reference)
        workloads += MicroWorkloads.exponentiation(group)
    }
    workloads += MicroWorkloads.symmetric()
    for workload in workloads {
        Benchmark(workload.label) { benchmark in
            for _ in benchmark.scaledIterations { workload.run() }
        }
    }
}

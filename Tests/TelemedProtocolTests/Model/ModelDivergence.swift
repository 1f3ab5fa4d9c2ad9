/// The first step at which the real DoctorMachine and the reference model disagree.
struct ModelDivergence: CustomStringConvertible {
    var step: Int
    var event: ModelEvent
    var differences: [String]

    var description: String {
        "after step \(step + 1) (\(event)):\n" + differences.map { "    \($0)" }.joined(separator: "\n")
    }
}

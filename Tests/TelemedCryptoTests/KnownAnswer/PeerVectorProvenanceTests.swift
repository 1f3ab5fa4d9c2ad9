import Foundation
import XCTest
import TelemedCrypto

/// The bundled peer vectors are exactly the files `Vectors/peer/PROVENANCE.md` lists: every
/// data file has a row with its SHA-256 (computed with `Hashing.sha256`, the production
/// digest), every row names a file that is present, and every source folder carries a
/// `LICENSE`. A file swapped, added or dropped without its provenance fails here.
final class PeerVectorProvenanceTests: XCTestCase {
    /// Rows of the PROVENANCE.md table: file → SHA-256 hex.
    private func listedFiles() throws -> [String: String] {
        let text = try VectorSources.peerText("PROVENANCE.md")
        var rows: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("| ") && !line.hasPrefix("| File") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let file = cells.first, let digest = cells.last, digest.count == 64 else { continue }
            XCTAssertNil(rows[file], "\(file) is listed twice")
            rows[file] = digest
        }
        return rows
    }

    /// Data files under `Vectors/peer` (all but PROVENANCE.md and the LICENSE notes).
    private func bundledFiles() throws -> [String] {
        let root = try VectorSources.folder().appendingPathComponent("peer")
        var found: [String] = []
        for folder in try FileManager.default.contentsOfDirectory(atPath: root.path).sorted() where folder != "PROVENANCE.md" {
            let names = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(folder).path)
            XCTAssertTrue(names.contains("LICENSE"), "peer/\(folder) has no LICENSE")
            found += names.filter { $0 != "LICENSE" }.map { "\(folder)/\($0)" }
        }
        return found.sorted()
    }

    func testEveryBundledFileIsListedWithItsDigest() throws {
        let listed = try listedFiles()
        let bundled = try bundledFiles()
        XCTAssertEqual(listed.count, 11, "PROVENANCE.md lists \(listed.count) files")
        XCTAssertEqual(bundled, listed.keys.sorted(), "files in Vectors/peer and rows of PROVENANCE.md differ")
        for (file, digest) in listed {
            let data = try VectorSources.peerData(file)
            XCTAssertEqual(Hashing.sha256(data).hex, digest, "\(file) differs from the copy PROVENANCE.md records")
        }
    }
}

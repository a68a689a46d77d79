import Foundation
import WatchTesting
import Testing
import WatchCore

@testable import BitcoinPlugin

/// Loads the fixture files copied from /work/shared/fixtures/bitcoin (see PROVENANCE.md).
enum Fixtures {
    static func url(_ name: String) -> URL {
        guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures/bitcoin")
        else { fatalError("missing fixture \(name)") }
        return url
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: url(name)))
    }

    static func json(_ name: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: url(name)))
    }

    /// Mainnet block 413567 (999,887 bytes), loaded once.
    static let block413567: [UInt8] = {
        do { return try bytes("block413567.raw") } catch { fatalError("cannot load block413567.raw: \(error)") }
    }()

    /// Block 413567 parsed once (without merkle verification; tests check that separately).
    static let parsedBlock413567: ParsedBlock = {
        do { return try BlockParser.parse(block413567, verifyMerkleRoot: false) } catch {
            fatalError("cannot parse block413567.raw: \(error)")
        }
    }()
}

/// The segwit transaction vector of the protocol reference §4 (rust-bitcoin `segwit_transaction`).
let segwitVectorHex =
    "02000000000101595895ea20179de87052b4046dfe6fd515860505d6511a9004cf12a1f93cac7c0100000000ffffffff01deb807000000000017a9140f3444e271620c736808aa7b33e370bd87cb5a078702483045022100fb60dad8df4af2841adc0346638c16d0b8035f5e3f3753b88db122e70c79f9370220756e6633b17fd2710e626347d28d60b0a2d6cbb41de51740644b9fb3ba7751040121028fa937ca8cba2197a37c007176ed8941055d3bcb8627d085e94553e62f057dcc00000000"

func hex(_ string: String) -> [UInt8] {
    guard let bytes = Hex.decode(string) else { fatalError("bad hex in test: \(string.prefix(40))") }
    return bytes
}

/// Compiles the bitcoinjs ASM notation used by the fixtures into script bytes.
func scriptFromASM(_ asm: String) -> [UInt8] {
    let opcodes: [String: UInt8] = [
        "OP_0": 0x00, "OP_FALSE": 0x00, "OP_TRUE": 0x51, "OP_DUP": 0x76, "OP_HASH160": 0xa9,
        "OP_EQUALVERIFY": 0x88, "OP_CHECKSIG": 0xac, "OP_EQUAL": 0x87, "OP_RETURN": 0x6a,
        "OP_CHECKMULTISIG": 0xae,
    ]
    var out: [UInt8] = []
    for token in asm.split(separator: " ").map(String.init) {
        if let op = opcodes[token] {
            out.append(op)
        } else if token.hasPrefix("OP_"), let n = Int(token.dropFirst(3)), (1...16).contains(n) {
            out.append(0x50 + UInt8(n))
        } else {
            let data = hex(token)
            if data.count <= 75 {
                out.append(UInt8(data.count))
            } else {
                out += [0x4c, UInt8(data.count)]
            }
            out += data
        }
    }
    return out
}

extension Dictionary where Key == String, Value == Any {
    func string(_ key: String) -> String? { self[key] as? String }
    func object(_ key: String) -> [String: Any]? { self[key] as? [String: Any] }
}

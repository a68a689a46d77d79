import WatchCore
import WatchTesting
import Crypto

/// Bitcoin consensus serialization for the bitcoind double, written independently of the
/// adapter's parser so each checks the other.
enum DoubleSerialization {
    static func sha256d(_ bytes: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: Array(SHA256.hash(data: bytes))))
    }

    static func compactSize(_ n: Int, into out: inout [UInt8]) {
        switch n {
        case ..<0xfd: out.append(UInt8(n))
        case ...0xffff: out.append(0xfd); le(UInt64(n), 2, into: &out)
        case ...0xffff_ffff: out.append(0xfe); le(UInt64(n), 4, into: &out)
        default: out.append(0xff); le(UInt64(n), 8, into: &out)
        }
    }

    static func le(_ value: UInt64, _ bytes: Int, into out: inout [UInt8]) {
        for i in 0..<bytes { out.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
    }

    static func displayHex(_ internalOrder: [UInt8]) -> String { hex(internalOrder.reversed()) }

    static func hex(_ bytes: some Collection<UInt8>) -> String { Hex.encode(bytes) }

    /// Display hex (a txid or block hash as RPC prints it) to internal byte order; a bad digit reads as 0.
    static func internalBytes(displayHex: String) -> [UInt8] {
        func nibble(_ c: UInt8) -> UInt8 {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            case 0x41...0x46: c - 0x41 + 10
            default: 0
            }
        }
        var chars = Array(displayHex.utf8)
        if chars.count % 2 == 1 { chars.insert(0x30, at: 0) }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        for i in stride(from: chars.count - 2, through: 0, by: -2) {
            out.append(nibble(chars[i]) << 4 | nibble(chars[i + 1]))
        }
        return out
    }
}

/// A transaction the double can mine: inputs (outpoints), outputs (value, script), optional witness.
public struct DoubleTransaction: Sendable, Hashable {
    public struct Input: Sendable, Hashable {
        public var txid: String  // display hex
        public var vout: UInt32
        public init(txid: String, vout: UInt32) {
            self.txid = txid
            self.vout = vout
        }
    }
    public var inputs: [Input]
    public var outputs: [(value: Int64, script: [UInt8])] { zip(values, scripts).map { ($0, $1) } }
    var values: [Int64]
    var scripts: [[UInt8]]
    public var segwit: Bool
    var coinbaseHeight: Int?
    /// BIP125: inputs with sequence 0xfffffffd signal replaceability; false writes 0xffffffff
    /// (replaceable only under full-RBF, bitcoind's default since v28).
    public var signalsReplacement = true

    public init(inputs: [Input], outputs: [(value: Int64, script: [UInt8])], segwit: Bool = true) {
        self.inputs = inputs
        values = outputs.map(\.value)
        scripts = outputs.map(\.script)
        self.segwit = segwit
    }

    static func coinbase(height: Int, script: [UInt8]) -> DoubleTransaction {
        var tx = DoubleTransaction(inputs: [Input(txid: String(repeating: "0", count: 64), vout: 0xffff_ffff)], outputs: [(50_0000_0000, script)], segwit: false)
        tx.coinbaseHeight = height
        return tx
    }

    func serialize(witness: Bool) -> [UInt8] {
        var out: [UInt8] = []
        DoubleSerialization.le(2, 4, into: &out)
        let withWitness = witness && segwit
        if withWitness { out += [0x00, 0x01] }
        DoubleSerialization.compactSize(inputs.count, into: &out)
        for input in inputs {
            out += DoubleSerialization.internalBytes(displayHex: input.txid)
            DoubleSerialization.le(UInt64(input.vout), 4, into: &out)
            var scriptSig: [UInt8] = []
            if let h = coinbaseHeight {
                scriptSig = [0x04]
                DoubleSerialization.le(UInt64(h), 4, into: &scriptSig)
            }
            DoubleSerialization.compactSize(scriptSig.count, into: &out)
            out += scriptSig
            DoubleSerialization.le(signalsReplacement ? 0xffff_fffd : 0xffff_ffff, 4, into: &out)
        }
        DoubleSerialization.compactSize(values.count, into: &out)
        for (value, script) in zip(values, scripts) {
            DoubleSerialization.le(UInt64(bitPattern: value), 8, into: &out)
            DoubleSerialization.compactSize(script.count, into: &out)
            out += script
        }
        if withWitness {
            for i in inputs.indices {
                out.append(1)  // one stack item: a 72-byte dummy signature
                DoubleSerialization.compactSize(72, into: &out)
                out += [UInt8](repeating: UInt8(i & 0xff), count: 72)
            }
        }
        DoubleSerialization.le(0, 4, into: &out)
        return out
    }

    /// Raw bytes as bitcoind relays them (with witness).
    public var raw: [UInt8] { serialize(witness: true) }
    public var txid: String { DoubleSerialization.displayHex(DoubleSerialization.sha256d(serialize(witness: false))) }

    public static func == (a: DoubleTransaction, b: DoubleTransaction) -> Bool { a.raw == b.raw }
    public func hash(into hasher: inout Hasher) { hasher.combine(raw) }
}

/// A block of the double's chain.
public struct DoubleBlock: Sendable {
    public var height: Int
    public var hash: String
    public var previousHash: String
    public var transactions: [DoubleTransaction]
    public var raw: [UInt8]
    /// The header's timestamp (Unix seconds).
    public var time: UInt32 { UInt32(raw[68]) | UInt32(raw[69]) << 8 | UInt32(raw[70]) << 16 | UInt32(raw[71]) << 24 }

    init(height: Int, previousHash: String, transactions: [DoubleTransaction], time: UInt32, nonce: UInt32) {
        self.height = height
        self.previousHash = previousHash
        self.transactions = transactions
        var merkle = transactions.map { DoubleSerialization.sha256d($0.serialize(witness: false)) }
        while merkle.count > 1 {
            if merkle.count % 2 == 1 { merkle.append(merkle.last!) }
            merkle = stride(from: 0, to: merkle.count, by: 2).map { DoubleSerialization.sha256d(merkle[$0] + merkle[$0 + 1]) }
        }
        var header: [UInt8] = []
        DoubleSerialization.le(0x2000_0000, 4, into: &header)
        header += DoubleSerialization.internalBytes(displayHex: previousHash)
        header += merkle[0]
        DoubleSerialization.le(UInt64(time), 4, into: &header)
        DoubleSerialization.le(0x207f_ffff, 4, into: &header)
        DoubleSerialization.le(UInt64(nonce), 4, into: &header)
        hash = DoubleSerialization.displayHex(DoubleSerialization.sha256d(header))
        var raw = header
        DoubleSerialization.compactSize(transactions.count, into: &raw)
        for tx in transactions { raw += tx.raw }
        self.raw = raw
    }
}

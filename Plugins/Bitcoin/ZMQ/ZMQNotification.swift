import WatchCore

/// One bitcoind ZMQ notification, parsed from its three frames (topic | body | 4-byte LE
/// sequence), per bitcoind's doc/zmq.md and `SendZmqMessage`.
public enum ZMQNotification: Sendable, Equatable {
    case rawTx([UInt8])
    case rawBlock([UInt8])
    /// 32-byte hash, in RPC (display) byte order, as bitcoind sends it.
    case hashBlock(String)
    case hashTx(String)
    /// `sequence` topic: hash (RPC order), label C/D/A/R, and for A/R the mempool sequence.
    case sequence(hash: String, label: SequenceLabel, mempoolSequence: UInt64?)

    public enum SequenceLabel: UInt8, Sendable {
        case blockConnected = 0x43  // C
        case blockDisconnected = 0x44  // D
        case txAdded = 0x41  // A
        case txRemoved = 0x52  // R
    }

    public var topic: String {
        switch self {
        case .rawTx: "rawtx"
        case .rawBlock: "rawblock"
        case .hashBlock: "hashblock"
        case .hashTx: "hashtx"
        case .sequence: "sequence"
        }
    }
}

public struct ZMQFrameError: Error, Equatable, CustomStringConvertible {
    public let reason: String
    public var description: String { "malformed ZMQ notification: \(reason)" }
}

extension ZMQNotification {
    /// Parses the frames of one message; returns the notification and its per-topic sequence number.
    public static func parse(frames: [[UInt8]]) throws(ZMQFrameError) -> (ZMQNotification, UInt32) {
        guard frames.count == 3 else { throw ZMQFrameError(reason: "expected 3 frames, got \(frames.count)") }
        guard frames[2].count == 4 else { throw ZMQFrameError(reason: "sequence frame has \(frames[2].count) bytes, expected 4") }
        let s = frames[2]
        let seq = UInt32(s[0]) | UInt32(s[1]) << 8 | UInt32(s[2]) << 16 | UInt32(s[3]) << 24
        let body = frames[1]
        let topic = String(decoding: frames[0], as: UTF8.self)
        switch topic {
        case "rawtx":
            guard !body.isEmpty else { throw ZMQFrameError(reason: "empty rawtx body") }
            return (.rawTx(body), seq)
        case "rawblock":
            guard body.count >= 81 else { throw ZMQFrameError(reason: "rawblock body of \(body.count) bytes") }
            return (.rawBlock(body), seq)
        case "hashblock", "hashtx":
            guard body.count == 32 else { throw ZMQFrameError(reason: "\(topic) body of \(body.count) bytes, expected 32") }
            let hex = Hex.encode(body)
            return (topic == "hashblock" ? .hashBlock(hex) : .hashTx(hex), seq)
        case "sequence":
            guard body.count == 33 || body.count == 41 else {
                throw ZMQFrameError(reason: "sequence body of \(body.count) bytes, expected 33 or 41")
            }
            guard let label = SequenceLabel(rawValue: body[32]) else {
                throw ZMQFrameError(reason: "unknown sequence label 0x\(String(body[32], radix: 16))")
            }
            let needsSequence = label == .txAdded || label == .txRemoved
            guard needsSequence == (body.count == 41) else {
                throw ZMQFrameError(reason: "sequence label \(Character(UnicodeScalar(body[32]))) with \(body.count) bytes")
            }
            var mempoolSequence: UInt64?
            if needsSequence {
                mempoolSequence = (0..<8).reduce(UInt64(0)) { $0 | UInt64(body[33 + $1]) << (8 * UInt64($1)) }
            }
            return (.sequence(hash: Hex.encode(body[0..<32]), label: label, mempoolSequence: mempoolSequence), seq)
        default:
            throw ZMQFrameError(reason: "unknown topic '\(topic.prefix(32))'")
        }
    }
}

/// Detects lost messages: each topic's 4-byte counter must go up by one. The first message
/// of a topic (or after a reconnect) sets the baseline.
public struct ZMQGapDetector: Sendable {
    private var last: [String: UInt32] = [:]
    public private(set) var gaps = 0
    public private(set) var lostMessages: UInt64 = 0

    public init() {}

    /// Records `sequence` for `topic`; returns how many messages were lost before it (0 if none).
    public mutating func record(topic: String, sequence: UInt32) -> UInt32 {
        defer { last[topic] = sequence }
        guard let previous = last[topic] else { return 0 }
        let expected = previous &+ 1
        guard sequence != expected else { return 0 }
        let lost = sequence &- expected
        gaps += 1
        lostMessages += UInt64(lost)
        return lost
    }

    public mutating func reset() { last = [:] }
}

extension ZMQNotification {
    /// The bytes it holds (raw transactions and blocks; a fixed small size for the others).
    var byteCount: Int {
        switch self {
        case .rawTx(let raw), .rawBlock(let raw): raw.count
        case .hashBlock, .hashTx, .sequence: 64
        }
    }
}

import WatchTesting
import CZMQ
import Foundation
import Dispatch
import Synchronization

/// bitcoind's ZMQ publishers: one PUB socket per topic, each message three frames
/// (topic | body | 4-byte little-endian sequence), the counter per topic starting at 0 and
/// advancing on every send — also on a deliberately dropped one, so subscribers see the gap.
final class ZMQPublisher: Sendable {
    private struct Socket: @unchecked Sendable {
        let pointer: UnsafeMutableRawPointer
    }
    private struct State {
        var sequences: [String: UInt32] = [:]
        var dropNext = 0
        var sent = 0
        var dropped = 0
    }
    private let context: Socket
    private let sockets: [String: Socket]
    let endpoints: [String: String]
    private let queue = DispatchQueue(label: "unrip.double.zmq")
    private let state = Mutex(State())

    static let topics = ["rawtx", "rawblock", "hashblock", "hashtx", "sequence"]

    init() {
        let ctx = zmq_ctx_new()!
        var sockets: [String: Socket] = [:]
        var endpoints: [String: String] = [:]
        for topic in Self.topics {
            let s = zmq_socket(ctx, ZMQ_PUB)!
            var hwm: Int32 = 100_000
            zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, MemoryLayout<Int32>.size)
            var linger: Int32 = 0
            zmq_setsockopt(s, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
            zmq_bind(s, "tcp://127.0.0.1:*")
            var buffer = [CChar](repeating: 0, count: 256)
            var size = buffer.count
            zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, &buffer, &size)
            endpoints[topic] = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            sockets[topic] = Socket(pointer: s)
        }
        context = Socket(pointer: ctx)
        self.sockets = sockets
        self.endpoints = endpoints
    }

    func close() {
        queue.sync {
            for s in sockets.values { zmq_close(s.pointer) }
            zmq_ctx_term(context.pointer)
        }
    }

    /// The next `count` messages (any topic) are counted but not sent.
    func dropNext(_ count: Int) { state.withLock { $0.dropNext += count } }
    func stopDropping() { state.withLock { $0.dropNext = 0 } }

    var stats: (sent: Int, dropped: Int) { state.withLock { ($0.sent, $0.dropped) } }

    func publish(_ topic: String, _ body: [UInt8]) {
        let (sequence, drop) = state.withLock { s -> (UInt32, Bool) in
            let seq = s.sequences[topic, default: 0]
            s.sequences[topic] = seq &+ 1
            let drop = s.dropNext > 0
            if drop {
                s.dropNext -= 1
                s.dropped += 1
            } else {
                s.sent += 1
            }
            return (seq, drop)
        }
        guard !drop, let socket = sockets[topic] else { return }
        let seqBytes = (0..<4).map { UInt8(truncatingIfNeeded: sequence >> (8 * UInt32($0))) }
        queue.sync {
            _ = topic.withCString { zmq_send(socket.pointer, $0, strlen($0), ZMQ_SNDMORE) }
            _ = body.withUnsafeBytes { zmq_send(socket.pointer, $0.baseAddress, $0.count, ZMQ_SNDMORE) }
            _ = seqBytes.withUnsafeBytes { zmq_send(socket.pointer, $0.baseAddress, 4, 0) }
        }
    }
}

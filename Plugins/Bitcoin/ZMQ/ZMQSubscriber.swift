import CZMQ
import Foundation
import Synchronization

/// A ZMQ SUB socket on its own thread, connected to bitcoind's publishers. Delivers each
/// multipart message's frames in order, in batches: what arrived together is handed over
/// together (one wake-up of the reader for many messages); stops when `stop()` is called or
/// the stream ends.
final class ZMQSubscriber: Sendable {
    let endpoints: [(topic: String, endpoint: String)]
    private let stopped = Atomic<Bool>(false)
    private let malformedCount = Atomic<Int>(0)
    private let droppedCount = Atomic<Int>(0)
    /// Bytes handed to the stream and not yet taken by the reader.
    private let bufferedBytes = Atomic<Int>(0)

    init(endpoints: [(topic: String, endpoint: String)]) {
        self.endpoints = endpoints
    }

    var malformed: Int { malformedCount.load(ordering: .relaxed) }
    /// Messages dropped because `maxBufferedBytes` were waiting for the reader already: their
    /// sequence numbers go missing, so the reader sees a gap and repairs from RPC.
    var dropped: Int { droppedCount.load(ordering: .relaxed) }
    /// Bytes waiting for the reader now.
    var buffered: Int { bufferedBytes.load(ordering: .relaxed) }

    /// Bytes that may wait between the receive thread and the reader; past it messages are
    /// dropped (counted), not queued: a peer cannot make the buffer large.
    static let maxBufferedBytes = 64 << 20

    /// The reader took `batch`: its bytes no longer count against the buffer.
    func taken(_ batch: [[[UInt8]]]) {
        bufferedBytes.subtract(Self.bytes(of: batch), ordering: .relaxed)
    }

    static func bytes(of batch: [[[UInt8]]]) -> Int {
        batch.reduce(0) { total, message in message.reduce(total) { $0 + $1.count } }
    }

    struct SetupError: Error, CustomStringConvertible {
        let description: String
    }

    /// Batches of messages (each message its frames) as received, until `stop()`.
    func messages() throws -> AsyncStream<[[[UInt8]]]> {
        let context = zmq_ctx_new()
        guard let socket = zmq_socket(context, ZMQ_SUB) else {
            zmq_ctx_term(context)
            throw SetupError(description: "zmq_socket failed: \(String(cString: zmq_strerror(zmq_errno())))")
        }
        var timeout: Int32 = 200
        zmq_setsockopt(socket, ZMQ_RCVTIMEO, &timeout, MemoryLayout<Int32>.size)
        var hwm: Int32 = 10_000
        zmq_setsockopt(socket, ZMQ_RCVHWM, &hwm, MemoryLayout<Int32>.size)
        // No frame larger than the largest legal block (4,000,000 bytes serialized) plus room:
        // a peer sending more is disconnected by libzmq before the frame is held in memory.
        var maxMessage = Self.maxMessageBytes
        zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &maxMessage, MemoryLayout<Int64>.size)
        var keepalive: Int32 = 1
        zmq_setsockopt(socket, ZMQ_TCP_KEEPALIVE, &keepalive, MemoryLayout<Int32>.size)
        var linger: Int32 = 0
        zmq_setsockopt(socket, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
        for topic in Set(endpoints.map(\.topic)) {
            _ = topic.withCString { zmq_setsockopt(socket, ZMQ_SUBSCRIBE, $0, strlen($0)) }
        }
        for endpoint in Set(endpoints.map(\.endpoint)) where zmq_connect(socket, endpoint) != 0 {
            let reason = String(cString: zmq_strerror(zmq_errno()))
            zmq_close(socket)
            zmq_ctx_term(context)
            throw SetupError(description: "cannot connect ZMQ endpoint \(endpoint): \(reason)")
        }
        let handles = SocketHandles(context: context, socket: socket)
        let (stream, continuation) = AsyncStream<[[[UInt8]]]>.makeStream(bufferingPolicy: .bufferingOldest(100_000))
        let thread = Thread { [self] in
            self.receiveLoop(handles, continuation)
        }
        thread.name = "unrip.zmq"
        thread.start()
        continuation.onTermination = { [self] _ in self.stop() }
        return stream
    }

    func stop() { stopped.store(true, ordering: .relaxed) }

    /// The largest ZMQ message taken (`ZMQ_MAXMSGSIZE`): a block's serialized size is at most
    /// 4,000,000 bytes (BIP141 weight limit), so 4 MiB holds any `rawblock`.
    static let maxMessageBytes: Int64 = 4 << 20

    /// Messages handed over in one batch, at most.
    static let batchLimit = 1_024

    private func receiveLoop(_ handles: SocketHandles, _ continuation: AsyncStream<[[[UInt8]]]>.Continuation) {
        defer {
            zmq_close(handles.socket)
            zmq_ctx_term(handles.context)
            continuation.finish()
        }
        var batch: [[[UInt8]]] = []
        var batchBytes = 0
        var frames: [[UInt8]] = []
        while !stopped.load(ordering: .relaxed) {
            // Block (up to the receive timeout) for the first message; then take what is
            // already there without waiting, and hand it over when nothing more is.
            let flags = batch.isEmpty && frames.isEmpty ? 0 : ZMQ_DONTWAIT
            var message = zmq_msg_t()
            zmq_msg_init(&message)
            let n = zmq_msg_recv(&message, handles.socket, flags)
            if n < 0 {
                zmq_msg_close(&message)
                if !batch.isEmpty { handOver(&batch, &batchBytes, continuation) }
                continue  // nothing more now, timeout (EAGAIN) or interrupted: check the stop flag
            }
            let size = zmq_msg_size(&message)
            let data = zmq_msg_data(&message)
            let bytes = size == 0 ? [] : [UInt8](UnsafeRawBufferPointer(start: data, count: size))
            let more = zmq_msg_more(&message) != 0
            zmq_msg_close(&message)
            frames.append(bytes)
            if frames.count > 16 {  // hostile or foreign publisher: drop the message
                malformedCount.add(1, ordering: .relaxed)
                frames = []
                continue
            }
            if !more {
                let size = frames.reduce(0) { $0 + $1.count }
                if bufferedBytes.load(ordering: .relaxed) + batchBytes + size > Self.maxBufferedBytes {
                    droppedCount.add(1, ordering: .relaxed)
                    frames = []
                    continue
                }
                batch.append(frames)
                batchBytes += size
                frames = []
                if batch.count >= Self.batchLimit {
                    handOver(&batch, &batchBytes, continuation)
                }
            }
        }
        if !batch.isEmpty { handOver(&batch, &batchBytes, continuation) }
    }

    private func handOver(_ batch: inout [[[UInt8]]], _ bytes: inout Int, _ continuation: AsyncStream<[[[UInt8]]]>.Continuation) {
        bufferedBytes.add(bytes, ordering: .relaxed)
        if case .dropped = continuation.yield(batch) {  // the stream's count bound: not taken, not held
            bufferedBytes.subtract(bytes, ordering: .relaxed)
            droppedCount.add(batch.count, ordering: .relaxed)
        }
        batch = []
        bytes = 0
    }
}

/// The raw libzmq pointers, handed to the receive thread that alone uses them.
private struct SocketHandles: @unchecked Sendable {
    let context: UnsafeMutableRawPointer?
    let socket: UnsafeMutableRawPointer
}

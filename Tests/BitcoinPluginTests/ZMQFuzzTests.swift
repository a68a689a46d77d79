import BitcoinTesting
import Testing
import WatchTesting

@testable import BitcoinPlugin

@Suite struct ZMQFuzzTests {
    /// Random and mutated frames against bitcoind's framing (reference doc: topic, body, 4-byte
    /// little-endian sequence; `rawtx` non-empty, `rawblock` a header and more, `hashblock` and
    /// `hashtx` 32 bytes, `sequence` a hash and a label of C, D, A, R, with an 8-byte mempool
    /// sequence after A and R only): a message is parsed exactly when it is well formed, and then
    /// with its sequence number; anything else is refused with a reason, never a crash.
    @Test(arguments: 0..<20)
    func randomFramesAreParsedExactlyWhenWellFormed(seed: UInt64) {
        var rng = SeededGenerator(seed: seed &+ 0x9E37_79B9_7F4A_7C15)
        func next() -> UInt64 { rng.next() }
        let topics = ["rawtx", "rawblock", "hashblock", "hashtx", "sequence", "", "bogus", "sequenceX"]
        var parsed = 0, refused = 0
        for _ in 0..<500 {
            var frames: [[UInt8]] = []
            for _ in 0..<Int(next() % 5) {
                frames.append((0..<Int(next() % 90)).map { _ in UInt8(truncatingIfNeeded: next()) })
            }
            if !frames.isEmpty, next() % 2 == 0 { frames[0] = Array(topics[Int(next() % UInt64(topics.count))].utf8) }
            if frames.count == 3, next() % 2 == 0 { frames[2] = Array(frames[2].prefix(4)) + [UInt8](repeating: 0, count: max(0, 4 - frames[2].count)) }
            if frames.count >= 2, next() % 3 == 0, frames[0] == Array("sequence".utf8) {
                frames[1] = Array(frames[1].prefix(32)) + [UInt8](repeating: 1, count: max(0, 32 - frames[1].count)) + [[0x41, 0x43, 0x44, 0x52][Int(next() % 4)]]
                if next() % 2 == 0 { frames[1] += [UInt8](repeating: 7, count: 8) }
            }
            let wellFormed = Self.wellFormed(frames)
            do {
                let (_, sequence) = try ZMQNotification.parse(frames: frames)
                parsed += 1
                #expect(wellFormed, "accepted a malformed message: \(frames.map(\.count))")
                #expect(sequence == frames[2].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
            } catch {
                refused += 1
                #expect(!wellFormed, "refused a well-formed message (\(error)): \(frames.map(\.count))")
            }
        }
        #expect(parsed > 0 && refused > 0, "the generator made only one kind: \(parsed) parsed, \(refused) refused")
    }

    /// bitcoind's framing, written from its documentation rather than from the parser.
    static func wellFormed(_ frames: [[UInt8]]) -> Bool {
        guard frames.count == 3, frames[2].count == 4 else { return false }
        let body = frames[1]
        switch String(decoding: frames[0], as: UTF8.self) {
        case "rawtx": return !body.isEmpty
        case "rawblock": return body.count > 80
        case "hashblock", "hashtx": return body.count == 32
        case "sequence":
            guard body.count > 32 else { return false }
            switch body[32] {
            case UInt8(ascii: "C"), UInt8(ascii: "D"): return body.count == 33
            case UInt8(ascii: "A"), UInt8(ascii: "R"): return body.count == 41
            default: return false
            }
        default: return false
        }
    }

    /// A frame larger than any block (ZMQ_MAXMSGSIZE) is never taken into memory: libzmq drops
    /// that publisher's connection; the others go on.
    @Test func framesLargerThanAnyBlockAreRefused() async throws {
        let double = try await BitcoindDouble.start()
        let subscriber = ZMQSubscriber(endpoints: [
            ("rawblock", double.zmqEndpoints["rawblock"]!), ("rawtx", double.zmqEndpoints["rawtx"]!),
        ])
        let stream = try subscriber.messages()
        defer { subscriber.stop() }
        let big = [UInt8](repeating: 0xab, count: 5 << 20)
        let feeder = Task {
            while !Task.isCancelled {
                double.publishZMQ("rawblock", big)
                double.publishZMQ("rawtx", [1, 2, 3])
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        defer { feeder.cancel() }
        var small = 0, largest = 0
        for await batch in stream {
            for message in batch {
                largest = max(largest, message.map(\.count).max() ?? 0)
                if message.first == Array("rawtx".utf8) { small += 1 }
            }
            if small >= 30 { break }
        }
        #expect(small >= 30)
        #expect(largest < 5 << 20, "a \(largest)-byte frame was taken")
    }

    /// A publisher faster than the reader cannot make the buffers large: past their byte bound
    /// messages are dropped and counted (the sequence gap makes the adapter repair from RPC).
    @Test func buffersAreBoundedInBytesNotOnlyInCount() async throws {
        let double = try await BitcoindDouble.start()
        let subscriber = ZMQSubscriber(endpoints: [("rawblock", double.zmqEndpoints["rawblock"]!)])
        let stream = try subscriber.messages()
        defer { subscriber.stop() }
        let frame = [UInt8](repeating: 0xcd, count: 3 << 20)
        // Nobody reads the stream while ~150 MiB is published.
        let settled = await waitUntil(.seconds(30)) {
            double.publishZMQ("rawblock", frame)
            return subscriber.dropped > 0
        }
        #expect(settled, "no message was dropped; buffered \(subscriber.buffered) bytes")
        #expect(subscriber.buffered <= ZMQSubscriber.maxBufferedBytes)
        var iterator = stream.makeAsyncIterator()
        let first = await iterator.next()
        #expect(first?.isEmpty == false)

        // The adapter's queue between the listener and the worker: the same bound.
        let inbox = ZMQInbox()
        for _ in 0..<40 { inbox.push(.rawBlock(frame), lost: 0) }
        #expect(inbox.stats.overflowed > 0)
        let (items, dropped) = inbox.drain()
        #expect(dropped == inbox.stats.overflowed && items.count * frame.count <= ZMQInbox.maxBytes)
        #expect(inbox.drain().dropped == 0)
    }
}

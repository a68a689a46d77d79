import Foundation
import Hummingbird
import Synchronization
import WatchCore

/// A local HTTP receiver for push tests (an Alertmanager's `POST /api/v2/alerts`, a webhook's
/// `POST /hook`) on 127.0.0.1. It records every request and answers 200 unless told
/// otherwise: queued replies (fail N times with 503, 400, hang), a default status, or 400 for
/// bodies containing a marker.
public final class HTTPReceiverDouble: Sendable {
    public enum Reply: Sendable, Equatable {
        case status(Int)
        /// Answers nothing for this long (longer than the client's timeout = a timeout), then 503.
        case hang(Duration)
        /// Takes the request (recorded as answered `status` on arrival, as a real receiver that
        /// processed it), then holds the answer until `release()`: a delivery in flight.
        case held(Int)
    }

    public struct Request: Sendable {
        public var path: String
        public var authorization: String?
        public var contentType: String?
        public var body: String
        /// The status answered (nil when the request hung).
        public var status: Int?

        public var json: JSONValue? { try? JSONValue.parse(body) }
        public var accepted: Bool { status.map { (200..<300).contains($0) } ?? false }
    }

    struct State {
        var requests: [Request] = []
        var queued: [Reply] = []
        var defaultStatus = 200
        var rejectMarker: String?
        var stopped = false
        var hanging = 0
        var holding = 0
        var releases = 0
    }
    let state = Mutex(State())
    let server = Mutex<DoubleHTTPServer?>(nil)
    public let port: Int

    public static func start() async throws -> HTTPReceiverDouble {
        let double = HTTPReceiverDouble(port: try freePort())
        try await double.serve()
        return double
    }

    init(port: Int) { self.port = port }

    public var baseURL: String { "http://127.0.0.1:\(port)" }
    /// The webhook endpoint.
    public var hookURL: String { baseURL + "/hook" }

    /// Every request so far, in arrival order.
    public var requests: [Request] { state.withLock { $0.requests } }
    /// The requests answered 2xx, in arrival order.
    public var accepted: [Request] { requests.filter(\.accepted) }

    /// The next requests get these replies, in order; then the default.
    public func enqueue(_ replies: [Reply]) { state.withLock { $0.queued += replies } }
    /// The reply when nothing is queued (200 at first).
    public func setDefault(status: Int) { state.withLock { $0.defaultStatus = status } }
    /// Bodies containing `marker` are answered 400 (nil: none).
    public func reject(containing marker: String?) { state.withLock { $0.rejectMarker = marker } }

    /// How many requests are held now (`.held` replies not yet released).
    public var holding: Int { state.withLock { $0.holding } }
    /// Answers every request held now.
    public func release() { state.withLock { $0.releases += 1 } }

    /// Ends hanging requests (answered 503), then the server: gracefully, so a request still
    /// being answered is finished first (cancelling NIO's writer under it is a fatal error).
    public func stop() {
        state.withLock { $0.stopped = true }
        server.withLock { $0 }?.stop()
    }

    func serve() async throws {
        let router = Router()
        for path in ["/api/v2/alerts", "/hook"] {
            router.post(RouterPath(path)) { request, _ -> Response in
                let body = try await request.body.collect(upTo: 16 << 20)
                return try await self.handle(
                    path: path, authorization: request.headers[.authorization], contentType: request.headers[.contentType],
                    body: String(buffer: body))
            }
        }
        let server = try await DoubleHTTPServer.start(router: router, port: port, label: "http-receiver-double")
        self.server.withLock { $0 = server }
    }

    func handle(path: String, authorization: String?, contentType: String?, body: String) async throws -> Response {
        let reply = state.withLock { s -> Reply in
            if !s.queued.isEmpty { return s.queued.removeFirst() }
            if let marker = s.rejectMarker, body.contains(marker) { return .status(400) }
            return .status(s.defaultStatus)
        }
        var request = Request(path: path, authorization: authorization, contentType: contentType, body: body, status: nil)
        switch reply {
        case .hang(let duration):
            state.withLock {
                $0.requests.append(request)
                $0.hanging += 1
            }
            defer { state.withLock { $0.hanging -= 1 } }
            let deadline = ContinuousClock.now + duration
            while ContinuousClock.now < deadline, !state.withLock({ $0.stopped }), !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(10))
            }
            return Response(status: .serviceUnavailable)
        case .held(let code):
            request.status = code
            let releases = state.withLock { s -> Int in
                s.requests.append(request)
                s.holding += 1
                return s.releases
            }
            defer { state.withLock { $0.holding -= 1 } }
            while !state.withLock({ $0.stopped || $0.releases != releases }), !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(5))
            }
            return Self.answer(code)
        case .status(let code):
            request.status = code
            state.withLock { $0.requests.append(request) }
            return Self.answer(code)
        }
    }

    static func answer(_ code: Int) -> Response {
        let text = (200..<300).contains(code) ? "{}" : "{\"error\": \"test receiver says \(code)\"}"
        return Response(
            status: .init(code: code), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

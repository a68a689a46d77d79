import CCurl
import Dispatch
import Synchronization

/// One HTTP exchange as libcurl saw it.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var body: [UInt8]
    /// The reply's `Retry-After`, in whole seconds (an HTTP date converted), when it had one.
    public var retryAfterSeconds: Int? = nil
}

/// Blocking libcurl requests, run on the client's own dispatch queues (never on Swift's
/// cooperative pool). Each worker queue keeps one easy handle, so connections are reused.
/// `concurrency` workers bound how many requests are in flight.
final class CurlHTTP: Sendable {
    struct Options: Sendable {
        var timeout: Duration
        var connectTimeout: Duration
        var maxResponseBytes: Int
        var headers: [String]
    }

    private let workers: [CurlWorker]
    private let options: Options

    init(concurrency: Int, options: Options) {
        CurlGlobal.ensureInitialized()
        workers = (0..<max(1, concurrency)).map { CurlWorker(label: "unrip.curl.\($0)") }
        self.options = options
    }

    /// `maxResponseBytes`, when given, lowers the client's cap for this request only.
    func post(url: String, body: [UInt8], maxResponseBytes: Int? = nil) async throws(JSONRPCError) -> HTTPResponse {
        try await perform(url: url, body: body, maxResponseBytes: maxResponseBytes)
    }

    func get(url: String, maxResponseBytes: Int? = nil) async throws(JSONRPCError) -> HTTPResponse {
        try await perform(url: url, body: nil, maxResponseBytes: maxResponseBytes)
    }

    private func perform(url: String, body: [UInt8]?, maxResponseBytes: Int?) async throws(JSONRPCError) -> HTTPResponse {
        let worker = workers.min { $0.pending.load(ordering: .relaxed) < $1.pending.load(ordering: .relaxed) }!
        let abort = AbortFlag()
        var limited = self.options
        if let maxResponseBytes { limited.maxResponseBytes = min(limited.maxResponseBytes, maxResponseBytes) }
        let options = limited
        let result: Result<HTTPResponse, JSONRPCError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                worker.pending.add(1, ordering: .relaxed)
                worker.queue.async {
                    let r = worker.perform(url: url, body: body, options: options, abort: abort)
                    worker.pending.subtract(1, ordering: .relaxed)
                    continuation.resume(returning: r)
                }
            }
        } onCancel: {
            abort.flag.store(true, ordering: .relaxed)
        }
        return try result.get()
    }
}

enum CurlGlobal {
    private static let initialized: Bool = {
        curl_global_init(Int(CURL_GLOBAL_ALL))
        return true
    }()

    static func ensureInitialized() { _ = initialized }
}

final class AbortFlag: Sendable {
    let flag = Atomic<Bool>(false)
}

/// Collects a reply body up to a limit.
final class BodySink {
    var bytes: [UInt8] = []
    let limit: Int
    var overflowed = false
    init(limit: Int) { self.limit = limit }
}

/// A serial queue and the easy handle only that queue touches.
final class CurlWorker: @unchecked Sendable {
    let queue: DispatchQueue
    let pending = Atomic<Int>(0)
    private var handle: UnsafeMutableRawPointer?

    init(label: String) { queue = DispatchQueue(label: label) }

    deinit { if let handle { curl_easy_cleanup(handle) } }

    /// Runs on `queue` only.
    func perform(url: String, body: [UInt8]?, options: CurlHTTP.Options, abort: AbortFlag) -> Result<HTTPResponse, JSONRPCError> {
        if abort.flag.load(ordering: .relaxed) { return .failure(.cancelled) }
        if handle == nil { handle = curl_easy_init() }
        guard let h = handle else { return .failure(.transport(.other("curl_easy_init failed"))) }
        curl_easy_reset(h)
        let sink = BodySink(limit: options.maxResponseBytes)
        let sinkRef = Unmanaged.passRetained(sink)
        let abortRef = Unmanaged.passRetained(abort)
        defer {
            sinkRef.release()
            abortRef.release()
        }
        var headers: UnsafeMutablePointer<curl_slist>? = nil
        for line in options.headers + (body != nil ? ["Content-Type: application/json"] : []) {
            headers = curl_slist_append(headers, line)
        }
        headers = curl_slist_append(headers, "Expect:")
        defer { curl_slist_free_all(headers) }

        let code: CURLcode = url.withCString { urlPtr in
            _ = unrip_curl_setopt_ptr(h, CURLOPT_URL, urlPtr)
            Self.setOptions(h, options: options, headers: headers, sink: sinkRef.toOpaque(), abort: abortRef.toOpaque())
            if let body {
                return body.withUnsafeBytes { raw in
                    _ = unrip_curl_setopt_long(h, CURLOPT_POST, 1)
                    _ = unrip_curl_setopt_long(h, CURLOPT_POSTFIELDSIZE, raw.count)
                    _ = unrip_curl_setopt_ptr(h, CURLOPT_POSTFIELDS, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1))
                    return curl_easy_perform(h)
                }
            }
            _ = unrip_curl_setopt_long(h, CURLOPT_HTTPGET, 1)
            return curl_easy_perform(h)
        }
        guard code == CURLE_OK else { return .failure(Self.error(code, overflowed: sink.overflowed, limit: options.maxResponseBytes)) }
        var status = 0
        _ = unrip_curl_getinfo_long(h, CURLINFO_RESPONSE_CODE, &status)
        let retryAfter = unrip_curl_retry_after(h)
        return .success(HTTPResponse(status: status, body: sink.bytes, retryAfterSeconds: retryAfter >= 0 ? Int(min(retryAfter, 86_400)) : nil))
    }

    /// Timeouts, no redirects, any encoding, the headers, and the body and abort callbacks.
    private static func setOptions(
        _ h: UnsafeMutableRawPointer, options: CurlHTTP.Options, headers: UnsafeMutablePointer<curl_slist>?,
        sink: UnsafeMutableRawPointer, abort: UnsafeMutableRawPointer
    ) {
        _ = unrip_curl_setopt_long(h, CURLOPT_NOSIGNAL, 1)
        _ = unrip_curl_setopt_long(h, CURLOPT_TIMEOUT_MS, Int(options.timeout.milliseconds))
        _ = unrip_curl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, Int(options.connectTimeout.milliseconds))
        _ = unrip_curl_setopt_long(h, CURLOPT_FOLLOWLOCATION, 0)
        _ = unrip_curl_setopt_ptr(h, CURLOPT_ACCEPT_ENCODING, "")
        _ = unrip_curl_setopt_ptr(h, CURLOPT_HTTPHEADER, headers)
        _ = unrip_curl_setopt_write(h, writeBody)
        _ = unrip_curl_setopt_ptr(h, CURLOPT_WRITEDATA, sink)
        _ = unrip_curl_setopt_long(h, CURLOPT_NOPROGRESS, 0)
        _ = unrip_curl_setopt_ptr(h, CURLOPT_XFERINFOFUNCTION, unsafeBitCast(checkAbort, to: UnsafeRawPointer.self))
        _ = unrip_curl_setopt_ptr(h, CURLOPT_XFERINFODATA, abort)
    }

    /// Appends a chunk of the reply to the `BodySink`; 0 (curl aborts) past its limit.
    private static let writeBody: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = { ptr, size, count, user in
        guard let user else { return 0 }
        let sink = Unmanaged<BodySink>.fromOpaque(user).takeUnretainedValue()
        let n = size * count
        if sink.bytes.count + n > sink.limit {
            sink.overflowed = true
            return 0
        }
        if n > 0, let ptr {
            ptr.withMemoryRebound(to: UInt8.self, capacity: n) { sink.bytes.append(contentsOf: UnsafeBufferPointer(start: $0, count: n)) }
        }
        return n
    }

    /// Non-zero (curl aborts) once the task waiting for the reply was cancelled.
    private static let checkAbort: @convention(c) (UnsafeMutableRawPointer?, Int64, Int64, Int64, Int64) -> Int32 = { user, _, _, _, _ in
        guard let user else { return 0 }
        return Unmanaged<AbortFlag>.fromOpaque(user).takeUnretainedValue().flag.load(ordering: .relaxed) ? 1 : 0
    }

    private static func error(_ code: CURLcode, overflowed: Bool, limit: Int) -> JSONRPCError {
        if overflowed { return .malformed("reply larger than \(limit) bytes") }
        switch code {
        case CURLE_OPERATION_TIMEDOUT: return .transport(.timeout)
        case CURLE_ABORTED_BY_CALLBACK: return .cancelled
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return .transport(.connect(String(cString: curl_easy_strerror(code))))
        default:
            return .transport(.other(String(cString: curl_easy_strerror(code))))
        }
    }
}

extension Duration {
    var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}

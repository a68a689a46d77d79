import NIOCore
import NIOHTTP1

/// An HTTP/1.0 request without `Connection: keep-alive` is the last one on its connection
/// (RFC 9112 §9.3). Hummingbird cannot tell: the HTTP-types conversion it puts after NIO's parser
/// (`HTTP1ToHTTPServerCodec`) drops the request's version and answers as HTTP/1.1, so such a
/// request got a kept-alive response and the socket stayed open until the idle timeout; a
/// client reading to EOF stalled. `additionalChannelHandlers` are added after that conversion,
/// where the version is gone, so this handler only installs `HTTP10ConnectionCloseCodec` in
/// front of the conversion (right after NIO's request decoder), where the version is still
/// known. It passes every event through untouched. HTTP/1.1 is left as it was.
final class HTTP10ConnectionClose: ChannelInboundHandler, RemovableChannelHandler {
    /// Never unwrapped: every read passes through as it came (a pipeline takes only inbound or
    /// outbound handlers).
    typealias InboundIn = NIOAny

    func handlerAdded(context: ChannelHandlerContext) {
        // Hummingbird's HTTP1Channel builds: response encoder, request decoder (both from
        // `configureHTTPServerPipeline`), HTTP1ToHTTPServerCodec, the additional handlers (us), …
        // Without the decoder (a pipeline of another shape) there is nothing to fix.
        let pipeline = context.pipeline.syncOperations
        guard let decoder = try? pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self) else { return }
        try? pipeline.addHandler(HTTP10ConnectionCloseCodec(), position: .after(decoder))
    }
}

/// Sits between NIO's HTTP/1 parser and the HTTP-types conversion. For an HTTP/1.0 request
/// that did not ask for keep-alive, it answers with `Connection: close` and closes the
/// connection once the response end is written. It also marks the request `Connection: close`,
/// so Hummingbird's connection loop stops after it instead of waiting for a next request.
final class HTTP10ConnectionCloseCodec: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// One entry per request head read and not yet answered (a client may pipeline): whether
    /// its response ends the connection.
    private var pending = CircularBuffer<Bool>()
    /// The response being written ends the connection.
    private var closing = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        // `isKeepAlive` is llhttp's verdict: HTTP/1.0 keeps alive only with `Connection: keep-alive`.
        let last = head.version == .http1_0 && !head.isKeepAlive
        pending.append(last)
        guard last else {
            context.fireChannelRead(data)
            return
        }
        // Hummingbird ends its request loop when `Connection` is exactly "close".
        head.headers.replaceOrAdd(name: "connection", value: "close")
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head):
            // An interim (1xx) response answers no request by itself; the final one follows.
            if head.status.code >= 100 && head.status.code < 200 && head.status != .switchingProtocols { break }
            closing = pending.popFirst() ?? false  // a parse-error answer has no request head: as it was
            guard closing else { break }
            head.headers.replaceOrAdd(name: "connection", value: "close")
            // Without Content-Length NIO's encoder frames an HTTP/1.1 body as chunked, which an
            // HTTP/1.0 client cannot read (RFC 9112 §6.1); as HTTP/1.0 the body ends with the close.
            if !head.headers.contains(name: "content-length") { head.version = .http1_0 }
            context.write(wrapOutboundOut(.head(head)), promise: promise)
            return
        case .end where closing:
            closing = false
            // Close once the end is on the wire: a close with writes still pending would drop them.
            let channel = context.channel
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.whenComplete { _ in channel.close(promise: nil) }
            written.futureResult.cascade(to: promise)
            context.writeAndFlush(data, promise: written)
            return
        case .body, .end:
            break
        }
        context.write(data, promise: promise)
    }
}

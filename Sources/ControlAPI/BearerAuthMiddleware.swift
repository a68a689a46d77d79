import Hummingbird

/// Every state-changing request (POST) needs `Authorization: Bearer <token>`: 401 without it,
/// 403 with a wrong one. With no token configured, state changes are refused outright.
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method != .get, request.method != .head else { return try await next(request, context) }
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
            return JSONResponse.error(.unauthorized, "missing bearer token: send Authorization: Bearer <control token>")
        }
        // Compared exactly as sent: " token" or "token\t" is another token.
        let presented = String(header.dropFirst("bearer ".count))
        guard let token, !token.isEmpty else {
            return JSONResponse.error(.forbidden, "no control token is configured ([control] token or UNRIP_CONTROL_TOKEN); state changes are disabled")
        }
        guard Self.constantTimeEqual(presented, token) else {
            return JSONResponse.error(.forbidden, "bearer token not accepted")
        }
        return try await next(request, context)
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) {
            diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return diff == 0
    }
}

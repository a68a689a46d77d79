import Hummingbird
import PostgresStore
import WatchCore

/// JSON responses and JSON error bodies for the control surface.
enum JSONResponse {
    static func ok(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: value.serialized() + "\n")))
    }

    /// `{"error": {"status": 400, "message": "…"}}`
    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        ok(["error": ["status": .int(Int64(status.code)), "message": .string(message)]], status: status)
    }
}

/// Turns anything a handler throws into a JSON error body, never a crash or an HTML page.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            return JSONResponse.error(error.status, error.body ?? error.status.reasonPhrase)
        } catch let error as PostgresError where error.isRefusalOfTheData {
            // The request carried a value the database cannot store (a NUL byte, a number out
            // of range): the client's to fix, the same every time.
            return JSONResponse.error(.badRequest, "a value of this request cannot be stored: \(Excerpt.of("\(error)", limit: 200))")
        } catch {
            context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return JSONResponse.error(.internalServerError, "internal error; see the service log")
        }
    }
}

extension RouterMethods {
    /// `GET path`, and `HEAD path` answered the same way, headers only (RFC 9110 §9.3.2).
    @discardableResult
    func getAndHead(_ path: RouterPath, use handler: @escaping @Sendable (Request, Context) async throws -> Response) -> Self {
        get(path, use: handler)
        on(path, method: .head) { request, context -> Response in
            var response = try await handler(request, context)
            response.body = ResponseBody()
            return response
        }
        return self
    }
}

import Foundation

/// Runs `docs/schemas/validate.py` (python3 `jsonschema`, draft 2020-12), the one validator
/// of the documented event schemas.
public enum EventSchemaValidator {
    public static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// `validate.py` with `arguments` (`--examples`, or JSONL files); returns (exit code, output).
    public static func run(_ arguments: [String]) async throws -> (Int32, String) {
        try await offThePool { try runBlocking(arguments) }
    }

    private static func runBlocking(_ arguments: [String]) throws -> (Int32, String) {
        let out = Pipe()
        let script = repositoryRoot.appendingPathComponent("docs/schemas/validate.py").path
        let process = try ChildProcess("/usr/bin/env", ["python3", script] + arguments, stdout: .pipe(out), stderr: .pipe(out))
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Validates JSON documents (one per string), each against the schema its `schema` names.
    public static func validate(documents: [String]) async throws -> (Int32, String) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("events-\(UUID().uuidString).jsonl")
        try Data(documents.joined(separator: "\n").utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        return try await run([file.path])
    }
}

import CKafka

/// A librdkafka failure: its error code (`rd_kafka_resp_err_t`) and text.
public struct KafkaError: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: Int32
    public let message: String

    public init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    init(_ err: rd_kafka_resp_err_t, context: String? = nil) {
        let text = String(cString: rd_kafka_err2str(err))
        self.init(code: err.rawValue, message: context.map { "\($0): \(text)" } ?? text)
    }

    /// A configuration problem reported by librdkafka (unknown property, bad value).
    static func config(_ text: String) -> KafkaError { KafkaError(code: -1, message: text) }

    /// The message was purged before delivery (shutdown or cancellation).
    public var isPurged: Bool {
        code == RD_KAFKA_RESP_ERR__PURGE_QUEUE.rawValue || code == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT.rawValue
    }

    public var description: String { "Kafka error \(code): \(message)" }
}

/// Text of a NUL-terminated C buffer.
func cText(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

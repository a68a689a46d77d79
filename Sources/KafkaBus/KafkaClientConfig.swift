import CKafka

/// What every Kafka client needs: brokers, a client id, and librdkafka properties passed
/// through as they are (SASL, TLS, timeouts, …).
public struct KafkaClientConfig: Sendable {
    public var brokers: [String]
    public var clientID: String
    /// librdkafka properties (`security.protocol`, `sasl.username`, …); they win over defaults.
    public var properties: [String: String]

    public init(brokers: [String], clientID: String = "unrip-watch", properties: [String: String] = [:]) {
        self.brokers = brokers
        self.clientID = clientID
        self.properties = properties
    }

    /// Builds a `rd_kafka_conf_t` from defaults, then the pass-through properties.
    /// Why `key` is no librdkafka property, or nil when it is one: checked when the config is
    /// read, so a misspelled key (`sasl.pasword`) is named by `check-config`, by key only, and
    /// never shown with its value. (A value librdkafka refuses is reported when the client is
    /// created, also by key only.)
    public static func problem(property key: String, value: String) -> String? {
        guard let conf = rd_kafka_conf_new() else { return nil }
        defer { rd_kafka_conf_destroy(conf) }
        var errbuf = [CChar](repeating: 0, count: 512)
        guard rd_kafka_conf_set(conf, key, value, &errbuf, errbuf.count) == RD_KAFKA_CONF_UNKNOWN else { return nil }
        return "not a librdkafka property (see librdkafka's CONFIGURATION.md; check the spelling)"
    }

    /// The value a client built with `defaults` and these properties runs with for `key`
    /// (what `/plugins/relay/state` and the tests read), or nil when it has none.
    public func effective(_ key: String, defaults: [(String, String)]) throws(KafkaError) -> String? {
        let conf = try makeConf(defaults: defaults)
        defer { rd_kafka_conf_destroy(conf) }
        var size = 0
        guard rd_kafka_conf_get(conf, key, nil, &size) == RD_KAFKA_CONF_OK, size > 0 else { return nil }
        var value = [CChar](repeating: 0, count: size)
        guard rd_kafka_conf_get(conf, key, &value, &size) == RD_KAFKA_CONF_OK else { return nil }
        return cText(value)
    }

    func makeConf(defaults: [(String, String)]) throws(KafkaError) -> OpaquePointer {
        guard let conf = rd_kafka_conf_new() else { throw .config("rd_kafka_conf_new failed") }
        var settings: [(String, String)] = [
            ("bootstrap.servers", brokers.joined(separator: ",")), ("client.id", clientID),
        ]
        settings += defaults
        settings += properties.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        var errbuf = [CChar](repeating: 0, count: 512)
        for (key, value) in settings {
            if rd_kafka_conf_set(conf, key, value, &errbuf, errbuf.count) != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                // The value may be a secret: name the key only.
                throw .config("librdkafka property \(key): \(cText(errbuf))")
            }
        }
        return conf
    }

    /// Creates a client handle; librdkafka owns `conf` from here on.
    static func makeHandle(_ type: rd_kafka_type_t, conf: OpaquePointer) throws(KafkaError) -> OpaquePointer {
        var errbuf = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(type, conf, &errbuf, errbuf.count) else {
            rd_kafka_conf_destroy(conf)
            throw .config("rd_kafka_new: \(cText(errbuf))")
        }
        return handle
    }
}

/// A librdkafka handle passed between threads; librdkafka handles are thread-safe.
struct KafkaHandle: @unchecked Sendable {
    let raw: OpaquePointer
}

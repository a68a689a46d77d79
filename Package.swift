// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "unrip-watch",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "unrip-watch", targets: ["unrip-watch"]),
        .executable(name: "unrip-kafka-mock", targets: ["unrip-kafka-mock"]),
        .library(name: "WatchCore", targets: ["WatchCore"]),
        .library(name: "WatchTesting", targets: ["WatchTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        // Already built as Hummingbird's: named here for the HTTP request-head deadline handler.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.70.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.20.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
    ],
    targets: [
        // System libraries (module maps only).
        .systemLibrary(name: "CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
        .systemLibrary(name: "CZMQ", pkgConfig: "libzmq", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),

        // SHA-256 with SHA-NI (runtime-selected, portable fallback) for the block parser's hot path.
        .target(name: "CSHA256"),

        // Core domain: no adapter, no storage, no transport.
        .target(
            name: "WatchCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // JSON-RPC 1.0/2.0 and REST over HTTP(S) with libcurl, shared by the chain adapters.
        .target(
            name: "JSONRPCClient",
            dependencies: ["WatchCore", "CCurl"]
        ),
        .target(
            name: "PostgresStore",
            dependencies: [
                "WatchCore", "CPostgres",
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: []
        ),
        .target(
            name: "ControlAPI",
            dependencies: [
                "WatchCore", "PostgresStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Kafka: librdkafka producer/consumer, the outbox relay and the input consumers.
        .target(
            name: "KafkaBus",
            dependencies: [
                "WatchCore", "PostgresStore", "CKafka",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Durable alerts: rules, evaluator, raise/clear state machine.
        .target(
            name: "Alerting",
            dependencies: [
                "WatchCore", "PostgresStore", "JSONRPCClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // librdkafka's Kafka-protocol mock cluster, for tests and the demo.
        .executableTarget(name: "unrip-kafka-mock", dependencies: ["CKafka"]),

        // Chain adapters: each depends only on the core; each folder holds its test kit (Testing/).
        .target(
            name: "BitcoinPlugin",
            dependencies: [
                "WatchCore", "CZMQ", "JSONRPCClient", "CSHA256",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Plugins/Bitcoin",
            exclude: ["Testing"]
        ),
        // The Bitcoin plugin's test kit: the bitcoind double (JSON-RPC, REST, ZMQ) and its chain.
        .target(
            name: "BitcoinTesting",
            dependencies: [
                "WatchCore", "WatchTesting", "CZMQ", "JSONRPCClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Plugins/Bitcoin/Testing"
        ),
        .target(
            name: "EVMPlugin",
            dependencies: [
                "WatchCore", "JSONRPCClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Plugins/EVM",
            exclude: ["Testing"]
        ),
        // The EVM plugin's test kit: the EVM JSON-RPC node double and its chain model.
        .target(
            name: "EVMTesting",
            dependencies: [
                "EVMPlugin", "WatchCore", "WatchTesting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Plugins/EVM/Testing"
        ),

        // Turns observations + bridge and verifier credit into funding transitions.
        .target(
            name: "Reconciler",
            dependencies: [
                "WatchCore", "PostgresStore", "JSONRPCClient",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),

        // The adapter registry: the one list that names every plugin (a list of values).
        .target(name: "UnripAdapters", dependencies: ["WatchCore", "BitcoinPlugin", "EVMPlugin"]),
        // The host: config, lifecycle, CLI commands; it runs whatever registry it is given and
        // links no plugin.
        .target(
            name: "WatchHost",
            dependencies: [
                "WatchCore", "PostgresStore", "ControlAPI", "Reconciler", "KafkaBus", "Alerting",
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
            ]
        ),
        .executableTarget(
            name: "unrip-watch",
            dependencies: [
                "WatchHost", "UnripAdapters", "BitcoinPlugin", "EVMPlugin", "JSONRPCClient", "WatchCore", "KafkaBus", "PostgresStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        .executableTarget(
            name: "unrip-bench",
            dependencies: [
                "BitcoinPlugin", "CSHA256", "WatchCore",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),

        .executableTarget(
            name: "unrip-doubles",
            dependencies: [
                "WatchTesting", "EVMTesting", "BitcoinTesting", "WatchCore", "BitcoinPlugin",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // What every adapter author needs and no chain's code: test clock, scripted chain, memory
        // store, test database, conformance suite, the bridge and receiver doubles.
        .target(
            name: "WatchTesting",
            dependencies: [
                "WatchCore", "PostgresStore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // Benchmarks (DESIGN §10): executables, never timed assertions in tests.
        .executableTarget(
            name: "gnosis-bench",
            dependencies: [
                "EVMPlugin", "EVMTesting", "JSONRPCClient", "WatchCore", "WatchTesting",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/GnosisCatchUp"
        ),
        .executableTarget(
            name: "e2e-bench",
            dependencies: [
                "WatchTesting", "BitcoinTesting", "WatchCore", "PostgresStore", "KafkaBus", "BitcoinPlugin", "JSONRPCClient",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/EndToEnd"
        ),

        .testTarget(
            name: "WatchCoreTests",
            dependencies: ["WatchCore", "WatchTesting", .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle")]),
        .testTarget(name: "PostgresStoreTests", dependencies: ["PostgresStore", "WatchCore", "WatchTesting"]),
        .testTarget(
            name: "ControlAPITests",
            dependencies: [
                "ControlAPI", "WatchHost", "UnripAdapters", "WatchCore", "WatchTesting", "BitcoinTesting", "PostgresStore", "Alerting", "BitcoinPlugin",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "WatchHostTests", dependencies: ["WatchHost", "UnripAdapters", "WatchCore", "WatchTesting", "EVMTesting", "PostgresStore", "Reconciler"]),
        .testTarget(name: "EndToEndTests", dependencies: ["WatchCore", "WatchTesting", "EVMTesting", "BitcoinTesting", "BitcoinPlugin", "PostgresStore", "JSONRPCClient", "KafkaBus"]),
        .testTarget(name: "ReconcilerTests", dependencies: ["Reconciler", "WatchCore", "WatchTesting", "PostgresStore", "JSONRPCClient", "Alerting"]),
        .testTarget(
            name: "KafkaBusTests",
            dependencies: [
                "KafkaBus", "Alerting", "WatchCore", "WatchTesting", "PostgresStore",
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "AlertingTests",
            dependencies: [
                "Alerting", "ControlAPI", "WatchCore", "WatchTesting", "PostgresStore",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "BitcoinPluginTests",
            dependencies: [
                "BitcoinPlugin", "BitcoinTesting", "WatchCore", "WatchTesting", "CSHA256", "JSONRPCClient",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "EVMPluginTests",
            dependencies: ["EVMPlugin", "EVMTesting", "JSONRPCClient", "WatchCore", "WatchTesting"],
            resources: [.copy("Fixtures")]
        ),
    ]
)

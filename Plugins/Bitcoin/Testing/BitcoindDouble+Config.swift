extension BitcoindDouble {
    /// The `[bitcoin]` section that points a host at this double (regtest, RPC with its cookie,
    /// REST, the three ZMQ feeds, from height 0), followed by `extra` lines (handles, timings).
    public func bitcoinSection(confirmations: Int = 2, pollIntervalMs: Int = 100, extra: [String] = []) -> String {
        ([
            "[bitcoin]", "enabled = true", "network = \"regtest\"",
            "rpc_url = \"\(rpcURL)\"", "rpc_cookie_file = \"\(cookieFile)\"", "rest = true",
            "zmq_sequence = \"\(zmqEndpoints["sequence"]!)\"", "zmq_rawtx = \"\(zmqEndpoints["rawtx"]!)\"",
            "zmq_rawblock = \"\(zmqEndpoints["rawblock"]!)\"",
            "confirmations = \(confirmations)", "start_height = 0", "poll_interval_ms = \(pollIntervalMs)",
        ] + extra).joined(separator: "\n")
    }
}

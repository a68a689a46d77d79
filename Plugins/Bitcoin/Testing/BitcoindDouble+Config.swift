extension BitcoindDouble {
    /// The `[bitcoin]` section that points a host at this double (regtest, RPC with its cookie,
    /// REST, the three ZMQ feeds unless `zmq` is false (then it is polled), from height 0),
    /// followed by `extra` lines (handles, timings).
    public func bitcoinSection(confirmations: Int = 2, pollIntervalMs: Int = 100, zmq: Bool = true, extra: [String] = []) -> String {
        let feeds = zmq ? ["sequence", "rawtx", "rawblock"].map { "zmq_\($0) = \"\(zmqEndpoints[$0]!)\"" } : []
        return ([
            "[bitcoin]", "enabled = true", "network = \"regtest\"",
            "rpc_url = \"\(rpcURL)\"", "rpc_cookie_file = \"\(cookieFile)\"", "rest = true",
        ] + feeds + [
            "confirmations = \(confirmations)", "start_height = 0", "poll_interval_ms = \(pollIntervalMs)",
        ] + extra).joined(separator: "\n")
    }
}

import Foundation
import JSONRPCClient
import WatchCore
import WatchTesting

/// A real Litecoin Core node (Debian's `litecoind` 0.21.2.1, a fork of Bitcoin Core 0.21) in
/// regtest, for the Bitcoin-family suite: a fresh data directory, RPC and P2P ports below the
/// ephemeral range, REST on, Bitcoin Core's replacement rules (`-mempoolreplacement=1`), a
/// wallet whose payments opt in to them. Debian builds it without ZMQ: the adapter polls it.
public final class LitecoindNode: @unchecked Sendable {
    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String
    }

    public let binary: String
    public let dataDirectory: String
    public let rpcPort: Int
    public let p2pPort: Int
    public let user = "unrip"
    public let password = "ltc-\(UInt64.random(in: 0...UInt64.max))"
    private let lock = NSLock()
    private var process: ChildProcess?
    private let rpc: JSONRPCClient
    private let chain: String

    /// `UNRIP_LITECOIND_BIN`, else `litecoind` on the PATH; nil when neither exists.
    public static var binaryPath: String? {
        if let path = ProcessInfo.processInfo.environment["UNRIP_LITECOIND_BIN"], !path.isEmpty { return path }
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":").map(String.init) + ["/usr/bin"]
        return dirs.map { $0 + "/litecoind" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Whether a litecoind can be run here (`./scripts/test` installs it and insists).
    public static var isAvailable: Bool { binaryPath != nil }

    private init(binary: String, chain: String) throws {
        self.binary = binary
        self.chain = chain
        dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("unrip-litecoind-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        rpcPort = try freePort()
        p2pPort = try freePort()
        rpc = JSONRPCClient(.init(url: "http://127.0.0.1:\(rpcPort)", version: .v1, username: user, password: password, timeout: .seconds(60)))
    }

    /// Starts a node with a wallet named `w` (`chain`: regtest; main or test run offline, for
    /// their address formats).
    public static func start(chain: String = "regtest") async throws -> LitecoindNode {
        guard let binary = binaryPath else {
            throw Unavailable(description: "litecoind not found: install Debian's litecoind (./scripts/test does) or set UNRIP_LITECOIND_BIN")
        }
        let node = try LitecoindNode(binary: binary, chain: chain)
        do {
            try await node.launch()
            _ = try await node.call("createwallet", ["w"])
        } catch {
            await node.remove()
            throw error
        }
        return node
    }

    private var arguments: [String] {
        [
            "-chain=\(chain)", "-datadir=\(dataDirectory)", "-server=1", "-rest=1", "-txindex=1",
            "-rpcport=\(rpcPort)", "-rpcbind=127.0.0.1", "-rpcallowip=127.0.0.1", "-rpcuser=\(user)", "-rpcpassword=\(password)",
            "-port=\(p2pPort)", "-bind=127.0.0.1", "-connect=0", "-dnsseed=0", "-discover=0", "-upnp=0",
            "-fallbackfee=0.0002", "-mempoolreplacement=1", "-walletrbf=1", "-printtoconsole=0", "-daemon=0",
        ]
    }

    /// Starts the process on the data directory and waits until RPC answers (warm-up done).
    private func launch() async throws {
        let child = try ChildProcess(binary, arguments, stdout: .null, stderr: .null)
        lock.withLock { process = child }
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if !child.isRunning { throw Unavailable(description: "litecoind exited at start (status \(child.terminationStatus)); see \(dataDirectory)/\(chain)/debug.log") }
            if (try? await rpc.call("getblockchaininfo")) != nil { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Unavailable(description: "litecoind did not answer RPC within 60 s; see \(dataDirectory)/\(chain)/debug.log")
    }

    public var rpcURL: String { "http://127.0.0.1:\(rpcPort)" }

    public func call(_ method: String, _ params: [JSONValue] = []) async throws -> JSONValue {
        try await rpc.call(method, params)
    }

    /// A wallet RPC on wallet `name` (`/wallet/<name>`: needed once two wallets are loaded).
    public func call(wallet name: String, _ method: String, _ params: [JSONValue] = []) async throws -> JSONValue {
        // A client per call, on purpose: a kept-alive connection holds litecoind's HTTP server
        // open at `stop` for its whole rpcservertimeout (30 s).
        let client = JSONRPCClient(.init(url: "\(rpcURL)/wallet/\(name)", version: .v1, username: user, password: password, timeout: .seconds(60)))
        return try await client.call(method, params)
    }

    /// Stops the node (RPC `stop`, then the process's exit), keeping its data directory.
    public func stop() async {
        _ = try? await rpc.call("stop")
        let child = lock.withLock { process }
        if let child, !(await child.exited(within: .seconds(60))) { child.killAndReap() }
        lock.withLock { process = nil }
    }

    /// Starts it again on the same data directory and ports, its wallet loaded.
    public func restart() async throws {
        await stop()
        try await launch()
        _ = try? await call("loadwallet", ["w"])
    }

    /// Stops the node and removes its data directory.
    public func remove() async {
        await stop()
        try? FileManager.default.removeItem(atPath: dataDirectory)
    }

    // MARK: - Wallet and chain

    /// A fresh wallet address: `legacy`, `p2sh-segwit`, `bech32` or `mweb`.
    public func newAddress(_ type: String, wallet: String = "w") async throws -> String {
        try await call(wallet: wallet, "getnewaddress", ["", .string(type)]).stringValue ?? ""
    }

    /// Mines `count` blocks to a fresh wallet address (never the same coinbase twice, so a block
    /// mined after `invalidateblock` is a new one). Returns their hashes.
    @discardableResult
    public func mine(_ count: Int) async throws -> [String] {
        let to = try await newAddress("bech32")
        return (try await call("generatetoaddress", [.int(Int64(count)), .string(to)])).arrayValue?.compactMap(\.stringValue) ?? []
    }

    /// Pays `sats` to `address` from the wallet (BIP125-replaceable); the txid.
    public func pay(_ address: String, sats: Int64, wallet: String = "w") async throws -> String {
        try await call(wallet: wallet, "sendtoaddress", [.string(address), Self.coins(sats)]).stringValue ?? ""
    }

    /// `sats` as the exact decimal amount RPC takes (8 places).
    static func coins(_ sats: Int64) -> JSONValue {
        let fraction = String(sats % 100_000_000)
        return .number("\(sats / 100_000_000).\(String(repeating: "0", count: 8 - fraction.count))\(fraction)")
    }

    /// `bumpfee`: the replacement's txid (same outputs, less change).
    public func bumpFee(_ txid: String) async throws -> String {
        try await call(wallet: "w", "bumpfee", [.string(txid)])["txid"]?.stringValue ?? ""
    }

    /// `invalidateblock`: the block and its descendants leave the chain, their transactions
    /// return to the mempool.
    public func invalidate(_ hash: String) async throws { _ = try await call("invalidateblock", [.string(hash)]) }

    public func tip() async throws -> (height: Int, hash: String) {
        let info = try await call("getblockchaininfo")
        return (Int(info["blocks"]?.int64Value ?? -1), info["bestblockhash"]?.stringValue ?? "")
    }

    /// Activates MWEB (BIP9 on regtest: active from height 432): mines to 431, pegs `coins` into
    /// a fresh MWEB address of wallet `mw` (the first MWEB block needs a peg-in), mines it.
    /// Wallet `mw` then holds MWEB coins only, so its payments are peg-outs.
    public func activateMWEB(pegIn sats: Int64) async throws {
        _ = try await call("createwallet", ["mw"])
        let height = try await tip().height
        if height < 431 { try await mine(431 - height) }
        let mweb = try await newAddress("mweb", wallet: "mw")
        _ = try await pay(mweb, sats: sats)
        try await mine(1)
    }

    public func mempool() async throws -> [String] {
        try await call("getrawmempool").arrayValue?.compactMap(\.stringValue) ?? []
    }
}

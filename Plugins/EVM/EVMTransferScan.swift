import JSONRPCClient
import Logging
import WatchCore

/// `unrip-watch gnosis scan` and `evm scan`: every `Transfer` of `token` to the watched
/// addresses between two blocks, one JSON object per line, through the adapter's
/// range-adapting, retrying client.
public struct EVMTransferScan: Sendable {
    public var rpcURL: String
    /// When set, the node's `eth_chainId` must equal it (`evm scan --chain-id`).
    public var chainId: Int?
    public var tokens: [String]
    public var watch: [String]
    public var from: Int
    public var to: Int
    public var maxBlockRange: Int
    public var concurrency: Int
    public var timeout: Duration
    public var retry: RetryPolicy

    public init(
        rpcURL: String, tokens: [String], watch: [String], from: Int, to: Int, maxBlockRange: Int = 2000, concurrency: Int = 4,
        timeout: Duration = .seconds(15), retry: RetryPolicy = RetryPolicy()
    ) {
        self.rpcURL = rpcURL
        self.tokens = tokens
        self.watch = watch
        self.from = from
        self.to = to
        self.maxBlockRange = maxBlockRange
        self.concurrency = concurrency
        self.timeout = timeout
        self.retry = retry
    }

    /// A bad argument or an unusable RPC, worded for the operator.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Summary of a finished scan.
    public struct Summary: Sendable {
        public var transfers: Int
        public var requests: Int
        public var splits: Int
    }

    /// Validates, scans, and calls `emit` with each JSON line in block/log order.
    public func run(logger: Logger = Logger(label: "evm-scan"), emit: (String) -> Void) async throws(Failure) -> Summary {
        guard rpcURL.hasPrefix("http://") || rpcURL.hasPrefix("https://") else {
            throw Failure(description: "--rpc must be an http:// or https:// URL")
        }
        guard !tokens.isEmpty else { throw Failure(description: "--token is required") }
        guard !watch.isEmpty else { throw Failure(description: "at least one --watch <address> is required") }
        var tokenAddresses: [EVMAddress] = [], watched: [EVMAddress] = []
        for (flag, list) in [("--token", tokens), ("--watch", watch)] {
            for text in list {
                do {
                    let a = try EVMAddress(text)
                    if flag == "--token" { tokenAddresses.append(a) } else { watched.append(a) }
                } catch {
                    throw Failure(description: "\(flag) \(text): \(error)")
                }
            }
        }
        guard from >= 0, from <= to else { throw Failure(description: "--from \(from) --to \(to): expected 0 ≤ from ≤ to") }

        let rpc = JSONRPCClient(.init(url: rpcURL, timeout: timeout, concurrency: concurrency))
        let client = EVMClient(rpc: rpc, retry: retry, stats: EVMStats(), logger: logger)
        let head: Int
        do {
            if let chainId {
                let served = try await client.chainId()
                guard served == chainId else {
                    throw Failure(description: "RPC \(rpc.redactedURL) serves chain \(served), not --chain-id \(chainId); point --rpc at the right network")
                }
            }
            head = try await client.blockNumber()
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(description: "RPC \(rpc.redactedURL) unusable: \(error)")
        }
        guard to <= head else { throw Failure(description: "--to \(to) is beyond the chain head \(head)") }
        let wanted = Set(watched), tokenSet = Set(tokenAddresses)
        let scanner = LogScanner(
            client: client, filter: LogFilter(tokens: tokenAddresses, recipients: watched), initialRange: maxBlockRange,
            concurrency: concurrency, logger: logger)
        var count = 0
        do {
            try await scanner.scan(from...to) { _, logs in
                let transfers = logs.compactMap(ERC20Transfer.init).filter { t in
                    guard let token = try? EVMAddress(t.token), let to = try? EVMAddress(t.to) else { return false }
                    return tokenSet.contains(token) && wanted.contains(to)
                }
                for t in transfers.sorted(by: { ($0.blockNumber, $0.logIndex) < ($1.blockNumber, $1.logIndex) }) {
                    emit(t.jsonLine)
                    count += 1
                }
            }
        } catch {
            throw Failure(description: "scan failed (RPC \(rpc.redactedURL)): \(error)")
        }
        return Summary(transfers: count, requests: rpc.requestTotal, splits: client.stats.snapshot.rangeSplits)
    }
}

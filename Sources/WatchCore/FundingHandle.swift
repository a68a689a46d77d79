/// A chain name as adapters and storage spell it: `bitcoin`, `gnosis`.
public typealias ChainName = String

/// A funding address (deposit handle) this service watches before the bridge credits it.
public struct FundingHandle: Sendable, Hashable, Codable {
    public var chain: ChainName
    public var network: String
    public var asset: String
    /// The address as configured (or as the bridge handed it out).
    public var address: String
    public var label: String
    /// Where the handle came from: `config`, or `bridge` when refreshed from `deposit_address`.
    public var source: String
    /// A block height the adapter scans history from for this handle only, until the scan is
    /// done (`POST /funding/handles` with `rescan_from`); nil for none.
    public var rescanFrom: Int?
    /// The intents account credited for deposits to this handle (`account` in config and over
    /// HTTP; a bridge-given handle's is the account it was asked for). Verifier rises of that
    /// account credit its deposits; nil: any account's rise may (as before accounts were known).
    public var account: String?
    /// The bridge its deposits are credited through (`CreditBridge`); nil: POA.
    public var bridge: String? = nil
    /// An Omni handle's DepositMsg, exactly the bytes its address was derived from.
    public var depositMessage: String? = nil

    public init(
        chain: ChainName, network: String, asset: String, address: String, label: String = "", source: String = "config", rescanFrom: Int? = nil,
        account: String? = nil, bridge: String? = nil, depositMessage: String? = nil
    ) {
        self.rescanFrom = rescanFrom
        self.bridge = bridge
        self.depositMessage = depositMessage
        self.account = account
        self.chain = chain
        self.network = network
        self.asset = asset
        self.address = address
        self.label = label
        self.source = source
    }

    public var json: JSONValue {
        var fields: [String: JSONValue] = [
            "chain": .string(chain), "network": .string(network), "asset": .string(asset), "address": .string(address),
            "label": .string(label), "source": .string(source),
        ]
        if let rescanFrom { fields["rescan_from"] = .int(Int64(rescanFrom)) }
        if let account { fields["account_id"] = .string(account) }
        fields["bridge"] = .string(bridge ?? CreditBridge.poa)
        if let depositMessage { fields["deposit_msg"] = .string(depositMessage) }
        return .object(fields)
    }
}

/// Per-chain policy: how deep is confirmed, how long a reorged transfer may stay away,
/// and how long each state may last before the transfer counts as stuck.
public struct ChainPolicy: Sendable, Hashable {
    /// Depth at which a transfer becomes `SEEN_CONFIRMED`.
    public var confirmations: Int
    /// Blocks a reorged-out transfer has to reappear before it ends `FAILED_OR_STUCK(reorged_out)`.
    public var reorgGraceBlocks: Int
    /// How many recent block hashes the tracker keeps to recognise a reorg.
    public var blockMemory: Int

    public init(confirmations: Int, reorgGraceBlocks: Int = 6, blockMemory: Int = 100) {
        self.confirmations = max(1, confirmations)
        self.reorgGraceBlocks = max(0, reorgGraceBlocks)
        self.blockMemory = max(self.confirmations + 1, blockMemory)
    }
}

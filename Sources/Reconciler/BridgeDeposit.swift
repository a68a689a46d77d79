import WatchCore

/// One `recent_deposits` item of the POA bridge, parsed exactly (amounts arrive as JSON
/// numbers that may exceed 2^53, or as strings).
public struct BridgeDeposit: Sendable, Equatable {
    public var chain: String
    public var accountID: String
    public var txHash: String?
    public var mintTxHash: String?
    public var nearTokenID: String?
    public var address: String?
    public var amount: Amount
    /// A status the reconciler knows; nil for any other (stored raw in `statusText`, counted,
    /// and it changes nothing).
    public var status: BridgeEvidence.Status?
    /// The status exactly as the bridge sent it.
    public var statusText: String
    public var createdAt: String?
    public var raw: JSONValue

    /// The bridge gives no id: (chain, tx hash, token, address, amount) identifies a deposit.
    /// Without a tx hash (BTC, balance-based) its `created_at` stands in, so a record keeps its
    /// id when the bridge later adds the mint tx hash; the mint tx hash only when neither is sent.
    public var depositID: String {
        let anchor = txHash ?? createdAt.map { "created:" + $0 } ?? mintTxHash ?? "-"
        return [chain, anchor, nearTokenID ?? "-", address ?? "-", amount.description].joined(separator: "|")
    }

    public struct Malformed: Error, CustomStringConvertible, Equatable {
        public let reason: String
        public var description: String { "malformed recent_deposits item: \(reason)" }
    }

    public init(json: JSONValue) throws(Malformed) {
        guard case .object(let o) = json else { throw Malformed(reason: "not an object") }
        func text(_ key: String) -> String? {
            guard let s = o[key]?.stringValue, !s.isEmpty else { return nil }
            return s
        }
        guard let chain = text("chain") else { throw Malformed(reason: "missing chain") }
        guard let account = text("account_id") else { throw Malformed(reason: "missing account_id") }
        guard let statusText = text("status"), statusText.utf8.count <= 64 else {
            throw Malformed(reason: "status \(Excerpt.of(o["status"]?.serialized() ?? "missing")) is not a status text (PENDING, CREDITED, COMPLETED, FAILED, …)")
        }
        let amount: Amount?
        switch o["amount"] {
        case .int(let i) where i >= 0: amount = Amount(UInt64(i))
        case .number(let t): amount = Amount(decimal: t)
        case .string(let t): amount = Amount(decimal: t)
        default: amount = nil
        }
        guard let amount else { throw Malformed(reason: "amount \(o["amount"]?.serialized() ?? "missing") is not a non-negative integer") }
        self.chain = chain
        accountID = account
        txHash = text("tx_hash")
        mintTxHash = text("mint_tx_hash")
        nearTokenID = text("near_token_id")
        address = text("address")
        self.amount = amount
        self.statusText = statusText
        status = BridgeEvidence.Status(rawValue: statusText)
        createdAt = text("created_at").flatMap { $0.utf8.count <= 64 ? $0 : nil }
        raw = json
    }
}

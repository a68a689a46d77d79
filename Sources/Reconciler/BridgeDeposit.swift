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
    public var status: BridgeEvidence.Status
    public var raw: JSONValue

    /// The bridge gives no id: (chain, tx hash or mint tx hash, token, address, amount) identifies a deposit.
    public var depositID: String {
        [chain, txHash ?? mintTxHash ?? "-", nearTokenID ?? "-", address ?? "-", amount.description].joined(separator: "|")
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
        guard let statusText = text("status"), let status = BridgeEvidence.Status(rawValue: statusText) else {
            throw Malformed(reason: "status \(o["status"]?.serialized() ?? "missing") is not PENDING, CREDITED, COMPLETED or FAILED")
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
        self.status = status
        raw = json
    }
}

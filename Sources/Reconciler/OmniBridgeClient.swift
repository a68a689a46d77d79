import Foundation
import JSONRPCClient
import WatchCore

/// What the Omni Bridge's API says of one BTC output (reference/omni-bridge.md §2).
public enum OmniTransferStatus: Sendable, Equatable {
    /// `statuses` empty: not indexed (yet).
    case notIndexed
    /// The newest status the API lists for the output.
    case known(OmniStatus)
}

/// A v4 status (`Initialised` … `Settled`), read in either spelling (the v3 indexer's
/// `Initialized`, `Claimed`). The set is open: an unknown one is kept, and is not terminal.
public enum OmniStatus: Sendable, Equatable, CustomStringConvertible {
    case initialised, signed, fastFinalisedOnNear, finalisedOnNear, fastFinalised, finalised, settled
    case unknown(String)

    public init(_ text: String) {
        switch text {
        case "Initialised", "Initialized": self = .initialised
        case "Signed": self = .signed
        case "FastFinalisedOnNear", "FastFinalizedOnNear": self = .fastFinalisedOnNear
        case "FinalisedOnNear", "FinalizedOnNear": self = .finalisedOnNear
        case "FastFinalised", "FastFinalized": self = .fastFinalised
        case "Finalised", "Finalized": self = .finalised
        case "Settled", "Claimed": self = .settled
        default: self = .unknown(Excerpt.of(text))
        }
    }

    /// The bridge says it delivered (`Finalised`, `Settled`). Never a credit by itself: the
    /// verifier's nBTC balance is what makes funds spendable.
    public var isDelivered: Bool { self == .finalised || self == .settled }

    public var description: String {
        switch self {
        case .initialised: "Initialised"
        case .signed: "Signed"
        case .fastFinalisedOnNear: "FastFinalisedOnNear"
        case .finalisedOnNear: "FinalisedOnNear"
        case .fastFinalised: "FastFinalised"
        case .finalised: "Finalised"
        case .settled: "Settled"
        case .unknown(let text): text
        }
    }
}

/// One BTC output's Omni transfer, v4 shape (optional fields omitted when absent).
public struct OmniTransfer: Sendable, Equatable {
    public var txHash: String
    public var vout: Int
    public var status: OmniStatus?
    public var amount: Amount?
    public var fee: Amount?
    public var recipient: String?
    /// The NEAR transaction that finalised it (`finalised.transaction_hash`), once there is one.
    public var nearTxHash: String?
    /// The transfer as the API sent it (stored with the deposit row).
    public var raw: JSONValue = .null
}

/// The Omni Bridge's HTTP API: deposit addresses and per-output transfer status. Replies are
/// bounded and checked; anything else is an error naming the call.
public final class OmniBridgeClient: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    private let api: JSONRPCClient
    private let poster: HTTPPostClient
    public let baseURL: String
    /// The API's URL with any credentials hidden, for state and logs.
    public var redactedURL: String { api.redactedURL }

    public init(baseURL: String, timeout: Duration = .seconds(15)) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        api = JSONRPCClient(.init(url: base, timeout: timeout, maxResponseBytes: 1 << 20))
        poster = HTTPPostClient(timeout: timeout, maxResponseBytes: 64 << 10)
    }

    /// `POST /api/v3/utxo/get_user_deposit_address`: the BTC address of `message`.
    public func depositAddress(_ message: OmniDepositMessage) async throws -> String {
        let response = try await poster.post(url: baseURL + "/api/v3/utxo/get_user_deposit_address", json: Array(message.addressRequest.serialized().utf8))
        guard (200..<300).contains(response.status) else {
            throw Failure(description: "get_user_deposit_address: HTTP \(response.status): \(Excerpt.of(String(decoding: response.body, as: UTF8.self)))")
        }
        guard let address = (try? JSONValue.parse(response.body))?["address"]?.stringValue, !address.isEmpty, address.utf8.count <= 100 else {
            throw Failure(description: "get_user_deposit_address: no address in \(Excerpt.of(String(decoding: response.body, as: UTF8.self)))")
        }
        return address
    }

    /// `GET /api/v4/transfers/transfer/status` of output `vout` of BTC transaction `txHash`.
    public func status(txHash: String, vout: Int) async throws -> OmniTransferStatus {
        let body = try await api.get("/api/v4/transfers/transfer/status?" + (try Self.utxoQuery(txHash, vout)))
        guard let statuses = (try? JSONValue.parse(body))?["statuses"]?.arrayValue else {
            throw Failure(description: "transfer/status \(txHash):\(vout): expected {\"statuses\": […]}, got \(Excerpt.of(String(decoding: body, as: UTF8.self)))")
        }
        guard let last = statuses.last?.stringValue else { return .notIndexed }
        try Self.checkStatus(last, "transfer/status \(txHash):\(vout)")
        return .known(OmniStatus(last))
    }

    /// `GET /api/v4/transfers/transfer` of output `vout` of `txHash`: nil while not indexed.
    public func transfer(txHash: String, vout: Int) async throws -> OmniTransfer? {
        let body = try await api.get("/api/v4/transfers/transfer?" + (try Self.utxoQuery(txHash, vout)))
        guard let transfers = (try? JSONValue.parse(body))?["transfers"]?.arrayValue else {
            throw Failure(description: "transfers/transfer \(txHash):\(vout): expected {\"transfers\": […]}, got \(Excerpt.of(String(decoding: body, as: UTF8.self)))")
        }
        guard let t = transfers.first else { return nil }
        if let status = t["status"]?.stringValue { try Self.checkStatus(status, "transfers/transfer \(txHash):\(vout)") }
        return OmniTransfer(
            txHash: txHash, vout: vout, status: t["status"]?.stringValue.map(OmniStatus.init),
            amount: Self.amount(t["amount"]), fee: Self.amount(t["fee"]), recipient: t["recipient"]?.stringValue,
            nearTxHash: t["finalised"]?["transaction_hash"]?.stringValue, raw: t)
    }

    /// A status is a short word (`Initialised`, `FinalisedOnNear`, …): one over 64 bytes, or
    /// with control characters, is refused, not stored, counted or logged as a status.
    static func checkStatus(_ status: String, _ call: String) throws {
        guard status.utf8.count <= 64, !status.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw Failure(description: "\(call): status \(Excerpt.of(status, limit: 80)) is not a status word (at most 64 bytes, no control characters)")
        }
    }

    /// `utxo_chain=Btc&utxo_tx_hash=…&utxo_vout=…`; the txid must be 64 hex digits, the vout ≥ 0.
    static func utxoQuery(_ txHash: String, _ vout: Int) throws -> String {
        guard txHash.utf8.count == 64, txHash.allSatisfy(\.isHexDigit), vout >= 0 else {
            throw Failure(description: "not a BTC output: \(Excerpt.of(txHash)):\(vout) (a txid is 64 hex digits)")
        }
        return "utxo_chain=Btc&utxo_tx_hash=\(txHash)&utxo_vout=\(vout)"
    }

    static func amount(_ value: JSONValue?) -> Amount? {
        switch value {
        case .string(let s)?: Amount(decimal: s)
        case .int(let i)? where i >= 0: Amount(decimal: String(i))
        case .number(let s)?: Amount(decimal: s)
        default: nil
        }
    }
}

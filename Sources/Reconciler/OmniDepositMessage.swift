import Crypto
import Foundation
import WatchCore

/// The Omni Bridge's `DepositMsg` for a NEAR Intents deposit (reference/omni-bridge.md §1):
/// `recipient_id = "intents.near"` with `safe_deposit.msg = {"receiver_id":"<account>"}`. Its
/// deposit address is derived from the exact bytes of its JSON (serde's field order, absent
/// fields left out): one changed byte is another address, so the bytes are stored with the
/// handle and sent again as they were.
public struct OmniDepositMessage: Sendable, Equatable {
    /// The NEAR account nBTC is minted to: `intents.near` for NEAR Intents.
    public var recipientID: String
    /// `safe_deposit.msg`, exactly as sent.
    public var safeDepositMsg: String?
    /// A BTC address refunds go to if the output is never finalized (a 2-day timelock with
    /// one, 14 days without).
    public var refundAddress: String?

    public init(recipientID: String, safeDepositMsg: String?, refundAddress: String? = nil) {
        self.recipientID = recipientID
        self.safeDepositMsg = safeDepositMsg
        self.refundAddress = refundAddress
    }

    /// A deposit to intents account `account` through the verifier (`intents.near`).
    public static func intents(account: String, verifier: String = "intents.near", refundAddress: String? = nil) -> OmniDepositMessage {
        OmniDepositMessage(recipientID: verifier, safeDepositMsg: #"{"receiver_id":"# + JSONValue.string(account).serialized() + "}", refundAddress: refundAddress)
    }

    /// The intents account a message credits (its `safe_deposit.msg`'s `receiver_id`, or the
    /// msg itself when it is a plain account id), if any.
    public var intentsAccount: String? {
        guard let msg = safeDepositMsg else { return nil }
        if let parsed = try? JSONValue.parse(Array(msg.utf8)) { return parsed["receiver_id"]?.stringValue }
        return HandleAccount.isValid(msg) ? msg : nil
    }

    /// `serde_json` of the contract's `DepositMsg`: `recipient_id`, `safe_deposit`,
    /// `refund_address`, in that order, absent ones left out.
    public var bytes: [UInt8] {
        var text = #"{"recipient_id":"# + JSONValue.string(recipientID).serialized()
        if let safeDepositMsg { text += #","safe_deposit":{"msg":"# + JSONValue.string(safeDepositMsg).serialized() + "}" }
        if let refundAddress { text += #","refund_address":"# + JSONValue.string(refundAddress).serialized() }
        return Array((text + "}").utf8)
    }

    /// The derivation path the connector uses: hex of SHA-256 of `bytes`.
    public var path: String { Hex.encode(SHA256.hash(data: bytes)) }

    /// The body of `POST /api/v3/utxo/get_user_deposit_address` for BTC.
    public var addressRequest: JSONValue {
        var fields: [String: JSONValue] = ["chain": "btc", "recipient": .string(recipientID)]
        if let safeDepositMsg { fields["safe_deposit"] = ["msg": .string(safeDepositMsg)] }
        if let refundAddress { fields["refund_address"] = .string(refundAddress) }
        return .object(fields)
    }

    /// Reads the stored bytes back (a handle's message after a restart).
    public init?(bytes: [UInt8]) {
        guard let parsed = try? JSONValue.parse(bytes), let recipient = parsed["recipient_id"]?.stringValue else { return nil }
        self.init(recipientID: recipient, safeDepositMsg: parsed["safe_deposit"]?["msg"]?.stringValue, refundAddress: parsed["refund_address"]?.stringValue)
        guard self.bytes == bytes else { return nil }  // not ours to re-send if it would not be these bytes
    }
}

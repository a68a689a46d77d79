/// The bridges a deposit can be credited through. A handle's `bridge` names one; a handle
/// without one credits through the bridge its source implies (POA).
public enum CreditBridge {
    /// The POA bridge (`bridge.chaindefuser.com`, `[bridge]`).
    public static let poa = "poa"
    /// The Omni Bridge (nBTC, `[bridge.omni]`).
    public static let omni = "omni"
    public static let all = [poa, omni]

    /// A handle table's optional `bridge` and `deposit_msg`, checked; the problem is recorded,
    /// naming the key, when a value is refused. An Omni handle must name its `account` (the
    /// DepositMsg credits it) unless it gives its `deposit_msg`.
    public static func read(_ handle: ConfigSection, account: String?) -> (bridge: String?, depositMessage: String?) {
        let bridge = handle.string("bridge")
        let message = handle.string("deposit_msg")
        if let bridge, !all.contains(bridge) {
            handle.problem("bridge", "\"\(bridge)\"", "one of \(all.joined(separator: ", ")) (omni: an Omni Bridge deposit address; leave it out for POA)")
            return (nil, nil)
        }
        if message != nil, bridge != omni {
            handle.problem("deposit_msg", nil, "only an Omni handle carries a DepositMsg; add bridge = \"omni\" or remove deposit_msg")
        }
        if bridge == omni, account == nil {
            handle.problem("account", nil, "an Omni handle needs the intents account its DepositMsg credits: account = \"…\"")
        }
        if bridge == omni, let message, let account, let why = messageProblem(message, account: account) {
            handle.problem("deposit_msg", nil, why)
        }
        return (bridge == poa ? nil : bridge, bridge == omni ? message : nil)
    }

    /// Why an Omni handle's `deposit_msg` cannot be its account's, or nil: it must be the
    /// DepositMsg JSON with a `recipient_id`, and its `safe_deposit.msg` must credit `account`
    /// (verifier rises of that account are what credit the handle's deposits).
    public static func messageProblem(_ message: String, account: String) -> String? {
        guard let parsed = try? JSONValue.parse(Array(message.utf8)), parsed["recipient_id"]?.stringValue != nil else {
            return "expected the exact DepositMsg JSON its address was derived from, e.g. {\"recipient_id\":\"intents.near\",\"safe_deposit\":{\"msg\":\"{\\\"receiver_id\\\":\\\"\(account)\\\"}\"}}"
        }
        guard let inner = parsed["safe_deposit"]?["msg"]?.stringValue else {
            return "a DepositMsg without safe_deposit.msg credits no intents account; it must name \(account)"
        }
        let receiver = (try? JSONValue.parse(Array(inner.utf8)))?["receiver_id"]?.stringValue ?? inner
        return receiver == account ? nil : "its safe_deposit.msg credits \(Excerpt.of(receiver, limit: 80)), not the handle's account \(account)"
    }
}

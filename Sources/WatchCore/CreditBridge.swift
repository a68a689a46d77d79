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
        if bridge == omni, account == nil, message == nil {
            handle.problem("account", nil, "an Omni handle needs the intents account its DepositMsg credits: account = \"…\" (or its exact deposit_msg)")
        }
        return (bridge == poa ? nil : bridge, bridge == omni ? message : nil)
    }
}

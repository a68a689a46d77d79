import Foundation
import Logging
import WatchCore

/// The connector's own numbers: `get_config` on the BTC connector through NEAR RPC, when
/// `[bridge] near_rpc_url` is set. Once read they take the place of the configured minimum and
/// tiers; a failed read is retried a minute later and the last good one stays.
extension OmniCreditSource {
    func readConnectorConfigIfDue(now: Date) async {
        guard let near else { return }
        if let next = stats.withLock({ $0.connectorNextRead }), now < next { return }
        do {
            let (json, _) = try await near.view(contract: configuration.connector, method: "get_config")
            let config = try OmniConnectorConfig(json: json)
            stats.withLock { s in
                if s.connector != config {
                    logger.info("Omni connector config read", metadata: ["min_deposit_amount": "\(config.minDepositAmount)", "tiers": "\(config.tiers.count)"])
                }
                s.connector = config
                s.connectorReadAt = now
                s.connectorNextRead = now.addingTimeInterval(configuration.connectorConfigRefresh)
                s.connectorError = nil
            }
        } catch {
            let text = Excerpt.of("get_config \(configuration.connector): \(error)", limit: 300)
            stats.withLock { s in
                s.connectorError = text
                s.connectorNextRead = now.addingTimeInterval(60)
            }
            logger.warning("Omni connector config unread; the last read or the configured numbers stay", metadata: ["error": "\(text)"])
        }
    }

    /// Where the minimum and tiers in force come from, and what they are.
    func connectorState(_ s: Stats) -> JSONValue {
        [
            "source": .string(s.connector == nil ? "config" : "contract"), "contract": .string(configuration.connector),
            "read": s.connector?.json ?? .null, "read_at": .optional(s.connectorReadAt.map(Timestamp.string)),
            "last_error": .optional(s.connectorError),
            "min_deposit_amount": .optional((s.connector?.minDepositAmount ?? configuration.minDepositSats)?.description),
        ]
    }
}

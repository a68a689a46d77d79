import Foundation
import WatchCore

/// Alerts in the shape of Alertmanager's `POST /api/v2/alerts` (`postableAlerts`: an array of
/// `{labels, annotations, startsAt, endsAt?, generatorURL?}`).
///
/// Alertmanager identifies an alert by the fingerprint of its labels, so the labels must stay
/// the same from raise to clear: they are `alertname` (the rule), `alert_key`, `subject` and
/// the alert's labels *as they were when it fired*. What may change while it fires (reason,
/// details, current labels) goes into annotations.
public enum AlertmanagerPayload {
    /// One alert to post.
    public struct Alert: Sendable, Equatable {
        public var key: String
        public var rule: String
        public var subject: String
        /// The alert's labels when it fired.
        public var labels: [String: String]
        public var reason: String
        public var details: JSONValue
        /// When it fired.
        public var startsAt: String
        /// When it resolved; nil while firing.
        public var endsAt: String?
        /// The `alert_events` transition this is, if any (nil for a periodic re-send).
        public var eventID: String?

        public init(
            key: String, rule: String, subject: String, labels: [String: String], reason: String, details: JSONValue,
            startsAt: String, endsAt: String?, eventID: String?
        ) {
            self.key = key
            self.rule = rule
            self.subject = subject
            self.labels = labels
            self.reason = reason
            self.details = details
            self.startsAt = startsAt
            self.endsAt = endsAt
            self.eventID = eventID
        }

        /// A transition from `alert_events`, with the labels of the firing it belongs to.
        public init(event: AlertEventRecord, firedLabels: [String: String]?) {
            self.init(
                key: event.key, rule: event.rule, subject: event.subject, labels: firedLabels ?? event.labels,
                reason: event.reason, details: event.details,
                startsAt: event.status == .resolved ? (event.firedAt ?? event.at) : event.at,
                endsAt: event.status == .resolved ? event.at : nil, eventID: event.eventID)
        }
    }

    /// The labels sent: the alert's own (names made valid for Alertmanager: `[a-zA-Z_][a-zA-Z0-9_]*`,
    /// empty values dropped), then `alertname`, `alert_key` and `subject`, which win on a clash.
    public static func labels(_ alert: Alert) -> [String: String] {
        var out: [String: String] = [:]
        for (name, value) in alert.labels where !value.isEmpty { out[labelName(name)] = value }
        out["alertname"] = alert.rule
        out["alert_key"] = alert.key
        out["subject"] = alert.subject
        return out
    }

    static func labelName(_ name: String) -> String {
        var out = String(
            name.unicodeScalars.map { s -> Character in
                (s.isASCII && (CharacterSet.alphanumerics.contains(s) || s == "_")) ? Character(s) : "_"
            })
        if out.isEmpty || out.first!.isNumber { out = "_" + out }
        return out
    }

    /// One `postableAlert`.
    public static func alert(_ alert: Alert, generatorURL: String?) -> JSONValue {
        var annotations: [String: JSONValue] = [
            "summary": .string(alert.reason), "reason": .string(alert.reason), "details": .string(alert.details.serialized()),
        ]
        if let eventID = alert.eventID { annotations["event_id"] = .string(eventID) }
        var fields: [String: JSONValue] = [
            "labels": .object(labels(alert).mapValues(JSONValue.string)), "annotations": .object(annotations),
            "startsAt": .string(alert.startsAt),
        ]
        if let endsAt = alert.endsAt { fields["endsAt"] = .string(endsAt) }
        if let generatorURL { fields["generatorURL"] = .string(generatorURL) }
        return .object(fields)
    }

    /// The request body: a JSON array of alerts.
    public static func body(_ alerts: [Alert], generatorURL: String?) -> [UInt8] {
        Array(JSONValue.array(alerts.map { alert($0, generatorURL: generatorURL) }).serialized().utf8)
    }
}

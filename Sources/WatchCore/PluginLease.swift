import Foundation

/// Whether this host may run a plugin now: with several hosts on one database, each plugin runs
/// on the one host holding its lease (the others stand by, ready to take over).
public protocol PluginLease: Sendable {
    /// Takes the lease when free or expired, renews it when held.
    func acquire() async -> LeaseAttempt
    /// Gives the lease up (at shutdown), so a standby takes over at once.
    func release() async
    /// How often a holder renews and a standby tries to take over (a third of the lease or less).
    var renewEvery: Duration { get }
    /// How long a lease lasts unrenewed: a holder that could not renew for this long steps down.
    var validFor: Duration { get }
    /// Holder, epoch and expiry, for `/plugins/<name>/state`.
    func state() -> JSONValue
}

public enum LeaseAttempt: Sendable, Equatable {
    /// This host holds it now.
    case held
    /// Another host holds an unexpired lease.
    case heldElsewhere(String)
    /// The database did not answer; whether the lease is held is unknown.
    case failed(String)
}

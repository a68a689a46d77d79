import struct Foundation.Date

/// Confirmations, reorgs and cursors, handled once for every chain (DESIGN §4).
///
/// Adapters feed it `ChainReport`s; it answers with the `ChainObservation`s to persist. It is a
/// value: a report that fails leaves it unchanged, and it can be rebuilt from storage
/// (`blocks` + open `transfers`) after a restart.
public struct ChainTracker: Sendable {
    public let chain: ChainName
    public let network: String
    public let policy: ChainPolicy
    /// Recent blocks of the current chain, ascending and contiguous; the last is the tip.
    public private(set) var blocks: [BlockRef]
    /// Open transfers still followed for depth, reorgs, replacement or eviction.
    public private(set) var transfers: [TransferKey: TrackedTransfer]
    /// While a batch is open: every changed transfer as it was before the batch, and the blocks.
    private var journal: (transfers: [TransferKey: TrackedTransfer?], blocks: [BlockRef])?

    public init(
        chain: ChainName, network: String, policy: ChainPolicy, blocks: [BlockRef] = [],
        transfers: [TrackedTransfer] = []
    ) {
        self.chain = chain
        self.network = network
        self.policy = policy
        self.blocks = blocks.sorted { $0.height < $1.height }
        self.transfers = Dictionary(transfers.map { ($0.key, $0) }, uniquingKeysWith: { _, last in last })
    }

    /// The cursor: the last block the tracker has applied.
    public var tip: BlockRef? { blocks.last }

    /// The hash the tracker holds at `height`, if it remembers that far back.
    public func hash(at height: Int) -> String? {
        guard let first = blocks.first, height >= first.height, height - first.height < blocks.count else {
            return nil
        }
        return blocks[height - first.height].hash
    }

    /// Applies one report. Throws `TrackerError` (tracker unchanged) when the report does not fit:
    /// every check that can throw runs before anything is changed, so the tracker is updated in
    /// place (no copy of its transfers per report).
    public mutating func apply(_ report: ChainReport, at now: Date) throws(TrackerError) -> [ChainObservation] {
        switch report {
        case .blockConnected(let block, let sightings):
            return try connect(block, sightings: sightings, at: now)
        case .blockScanned(let block, let sightings):
            // A jump ahead of the tip cannot be refused, so clearing the memory first is safe.
            if let tip, block.height > tip.height + 1 { blocks.removeAll() }
            return try connect(block, sightings: sightings, at: now)
        case .blockDisconnected(let block):
            return try disconnect(block, at: now)
        case .historicalTransfers(let block, let sightings):
            return historical(block, sightings: sightings, at: now)
        case .mempoolEntered(let sighting):
            return enterMempool(sighting, at: now)
        case .mempoolLeft(let txHash, let why):
            return leaveMempool(txHash: txHash, why: why, at: now)
        }
    }

    // MARK: - Blocks

    private mutating func connect(_ block: BlockRef, sightings: [TransferSighting], at now: Date) throws(TrackerError)
        -> [ChainObservation]
    {
        if hash(at: block.height) == block.hash { return [] }  // duplicate report
        var out: [ChainObservation] = []
        if let tip {
            if block.height > tip.height + 1 { throw .gap(tipHeight: tip.height, got: block) }
            let parentHeight = block.height - 1
            let knownParent = hash(at: parentHeight)
            if let parent = block.parentHash {
                guard knownParent == parent else { throw .unknownParent(block) }
            } else if block.height <= tip.height {
                throw .unknownParent(block)
            }
            // A block at or below the tip replaces what we had there: disconnect down to it.
            while let top = blocks.last, top.height >= block.height {
                out += demoteTransfers(in: top, at: now)
                blocks.removeLast()
            }
        }
        blocks.append(block)
        if blocks.count > policy.blockMemory { blocks.removeFirst(blocks.count - policy.blockMemory) }

        for sighting in sightings {
            let key = TransferKey(chain: chain, txHash: sighting.txHash, outputIndex: sighting.outputIndex)
            if var known = transfers[key] {
                known.block = block
                known.demotedAtHeight = nil
                set(key, known)
            } else {
                set(
                    key,
                    TrackedTransfer(
                        key: key, network: network, asset: sighting.asset, address: sighting.address,
                        amount: sighting.amount, state: .seenUnconfirmed, block: block, confirmations: 0,
                        demotedAtHeight: nil))
            }
        }
        out += refreshDepths(newlyIncluded: Set(sightings.map { TransferKey(chain: chain, txHash: $0.txHash, outputIndex: $0.outputIndex) }), at: now)
        return out
    }

    private mutating func disconnect(_ block: BlockRef, at now: Date) throws(TrackerError) -> [ChainObservation] {
        guard hash(at: block.height) == block.hash else {
            // Already gone (duplicate D) is fine; a block we never had is not.
            if let tip, block.height > tip.height { return [] }
            throw .unknownBlock(block)
        }
        var out: [ChainObservation] = []
        while let top = blocks.last, top.height >= block.height {
            out += demoteTransfers(in: top, at: now)
            blocks.removeLast()
        }
        // The grace of a reorged-out transfer runs from the new branch's blocks: judged at a
        // disconnect, a grace of 0 failed every transfer the same reorg puts back a block later.
        out += refreshDepths(newlyIncluded: [], judgingGrace: false, at: now)
        return out
    }

    /// Transfers included in `block` lose their block: demoted to `SEEN_UNCONFIRMED` until
    /// they come back or the grace runs out.
    private mutating func demoteTransfers(in block: BlockRef, at now: Date) -> [ChainObservation] {
        var out: [ChainObservation] = []
        // In key order, so the events of one reorg come out the same however they were batched.
        let included = transfers.compactMap { $0.value.block?.hash == block.hash ? $0.key : nil }
        for key in included.sorted(by: Self.order) {
            guard var t = transfers[key] else { continue }
            t.block = nil
            t.confirmations = 0
            t.demotedAtHeight = block.height - 1
            t.state = .seenUnconfirmed
            set(key, t)
            out.append(observation(t, kind: .reorgedOut, target: .seenUnconfirmed, at: now))
        }
        return out
    }

    /// Recomputes depth for every tracked transfer after the tip moved.
    private mutating func refreshDepths(newlyIncluded: Set<TransferKey>, judgingGrace: Bool = true, at now: Date) -> [ChainObservation] {
        guard let tip else { return [] }
        var out: [ChainObservation] = []
        let oldest = blocks.first?.height ?? tip.height
        for key in transfers.keys.sorted(by: Self.order) {
            guard var t = transfers[key] else { continue }
            if let block = t.block {
                let depth = tip.height - block.height + 1
                let changed = depth != t.confirmations || newlyIncluded.contains(key)
                t.confirmations = depth
                let kind: ObservationKind
                let target: FundingTarget
                if depth >= policy.confirmations, t.state == .seenUnconfirmed {
                    t.state = .seenConfirmed
                    kind = .confirmed
                    target = .seenConfirmed
                } else {
                    kind = newlyIncluded.contains(key) ? .included : .depthUpdate
                    target = t.state == .seenUnconfirmed ? .seenUnconfirmed : .seenConfirmed
                }
                if changed { out.append(observation(t, kind: kind, target: target, at: now)) }
                if block.height < oldest, t.state != .seenUnconfirmed {
                    // Deeper than any reorg we can see: no longer followed. (An unconfirmed one
                    // only falls out of memory after a `blockScanned` jump; it stays followed
                    // until its depth reaches the policy.)
                    set(key, nil)
                } else {
                    set(key, t)
                }
            } else if judgingGrace, let demoted = t.demotedAtHeight, tip.height - demoted >= policy.reorgGraceBlocks {
                set(key, nil)
                out.append(observation(t, kind: .reorgedOut, target: .failedOrStuck(.reorgedOut), at: now))
            }
        }
        return out
    }

    /// A rescan's finds in a past block: followed from their depth, never moving the tip.
    private mutating func historical(_ block: BlockRef, sightings: [TransferSighting], at now: Date) -> [ChainObservation] {
        guard let tip, block.height <= tip.height else { return [] }  // ahead of the tip: the sync reports it
        if let held = hash(at: block.height), held != block.hash { return [] }  // a block no longer on the chain
        var fresh: Set<TransferKey> = []
        for sighting in sightings {
            let key = TransferKey(chain: chain, txHash: sighting.txHash, outputIndex: sighting.outputIndex)
            guard transfers[key] == nil else { continue }
            set(
                key,
                TrackedTransfer(
                    key: key, network: network, asset: sighting.asset, address: sighting.address, amount: sighting.amount,
                    state: .seenUnconfirmed, block: block, confirmations: 0, demotedAtHeight: nil))
            fresh.insert(key)
        }
        return fresh.isEmpty ? [] : refreshDepths(newlyIncluded: fresh, at: now)
    }

    // MARK: - Mempool

    private mutating func enterMempool(_ s: TransferSighting, at now: Date) -> [ChainObservation] {
        let key = TransferKey(chain: chain, txHash: s.txHash, outputIndex: s.outputIndex)
        if var known = transfers[key] {
            // Back in the mempool after a reorg: no longer at risk of `reorged_out`.
            if known.block == nil, known.demotedAtHeight != nil {
                known.demotedAtHeight = nil
                set(key, known)
            }
            return []
        }
        let t = TrackedTransfer(
            key: key, network: network, asset: s.asset, address: s.address, amount: s.amount,
            state: .seenUnconfirmed, block: nil, confirmations: 0, demotedAtHeight: nil)
        set(key, t)
        return [observation(t, kind: .seenInMempool, target: .seenUnconfirmed, at: now)]
    }

    private mutating func leaveMempool(txHash: String, why: MempoolExit, at now: Date) -> [ChainObservation] {
        var out: [ChainObservation] = []
        for key in transfers.keys.sorted(by: Self.order) where key.txHash == txHash {
            guard let t = transfers[key], t.block == nil else { continue }
            set(key, nil)
            switch why {
            case .replaced(let by):
                var o = observation(t, kind: .replaced, target: .failedOrStuck(.replaced(by: by)), at: now)
                o.replacement = replacement(of: t, by: by)
                out.append(o)
            case .evicted:
                out.append(observation(t, kind: .evicted, target: .failedOrStuck(.evicted), at: now))
            }
        }
        return out
    }

    /// Judges a replacement by what the replacing transaction pays, which the adapter reported
    /// first (its mempool entry, or its block): the same handle again is a fee bump, nothing
    /// watched is a double spend away.
    private func replacement(of t: TrackedTransfer, by: String?) -> Replacement {
        guard let by else { return Replacement(by: nil, outcome: .unknown, originalAmount: t.amount) }
        let paying = transfers.values.filter { $0.key.txHash == by }
        let again = paying.filter { $0.address == t.address }
        if !again.isEmpty {
            let total = again.reduce(Amount(0)) { $0.addingReportingOverflow($1.amount) ?? $0 }
            return Replacement(by: by, outcome: .superseded, originalAmount: t.amount, replacementAmount: total)
        }
        return Replacement(by: by, outcome: paying.isEmpty ? .doubleSpent : .paysAnotherHandle, originalAmount: t.amount)
    }

    // MARK: - Batches

    /// Starts recording changes so that `rollback()` can undo them: a pipeline applies reports
    /// in place (no copy of every open transfer per batch) and undoes them if the commit fails.
    public mutating func beginBatch() {
        journal = ([:], blocks)
    }

    /// Undoes every change since `beginBatch()`.
    public mutating func rollback() {
        guard let journal else { return }
        for (key, original) in journal.transfers { transfers[key] = original }
        blocks = journal.blocks
        self.journal = nil
    }

    /// Keeps the changes since `beginBatch()`.
    public mutating func endBatch() {
        journal = nil
    }

    /// Transfers still followed whose `demotedAtHeight` changed since `beginBatch()`.
    public var demotionChanges: [TransferKey: Int?] {
        var out: [TransferKey: Int?] = [:]
        for (key, original) in journal?.transfers ?? [:] {
            guard let now = transfers[key], original?.demotedAtHeight != now.demotedAtHeight else { continue }
            out[key] = now.demotedAtHeight
        }
        return out
    }

    private mutating func set(_ key: TransferKey, _ value: TrackedTransfer?) {
        if journal != nil, journal?.transfers[key] == nil {
            journal?.transfers[key] = .some(transfers[key])
        }
        transfers[key] = value
    }

    // MARK: - Helpers

    private static func order(_ a: TransferKey, _ b: TransferKey) -> Bool {
        (a.txHash, a.outputIndex) < (b.txHash, b.outputIndex)
    }

    private func observation(_ t: TrackedTransfer, kind: ObservationKind, target: FundingTarget, at now: Date)
        -> ChainObservation
    {
        ChainObservation(
            key: t.key, network: t.network, asset: t.asset, address: t.address, amount: t.amount, kind: kind,
            target: target, confirmations: t.confirmations, block: t.block, observedAt: now)
    }
}

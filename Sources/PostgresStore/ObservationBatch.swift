import Foundation
import Logging
import WatchCore

/// Writes a batch of chain observations with a fixed number of statements, whatever the batch
/// size: insert the new transfers, lock and update the known ones, append their timeline
/// events, enqueue their outbox events. Each statement takes arrays (`unnest`).
///
/// The rules are those of one observation at a time: the stored state is the arbiter, every
/// change goes through `FundingStateMachine`, a refused transition keeps the stored state and
/// only refreshes chain fields, and a timeline step (event + outbox row) is written for a state
/// change or a change of block only. Observations of the same transfer are applied in order:
/// the batch is cut into rounds in which every transfer appears once, so the order of events
/// (and so of outbox rows) is exactly the order of the batch.
enum ObservationBatch {
    static func apply(_ observations: [ChainObservation], conn: PGConnection, topic: String, logger: Logger) throws {
        var start = observations.startIndex
        while start < observations.endIndex {
            var keys: Set<TransferKey> = []
            var end = start
            while end < observations.endIndex, keys.insert(observations[end].key).inserted { end += 1 }
            try applyRound(observations[start..<end], conn: conn, topic: topic, logger: logger)
            start = end
        }
    }

    /// What is stored for a transfer before the round changes it.
    private struct Stored {
        let id: Int
        let state: FundingState?
        let blockHash: String?
        /// A person marked it stuck (`manual: …`): only a person or the credit undoes that, so a
        /// chain report (a restart re-reporting the mempool) keeps the state and reason.
        let heldByPerson: Bool
    }

    /// Applies observations of distinct transfers.
    private static func applyRound(_ round: ArraySlice<ChainObservation>, conn: PGConnection, topic: String, logger: Logger) throws {
        var records: [TransferKey: ObservationRecord] = [:]

        // New transfers first: one INSERT of every observation that may open a transfer; a row
        // that exists already (or that a concurrent writer inserted first) is left alone here
        // and locked below with the other known ones. Mempool traffic is all new: no lock read.
        let insertable = round.filter { FundingStateMachine.isLegal(from: nil, to: $0.target.state) }
        var inserted: Set<TransferKey> = []
        if !insertable.isEmpty {
            let byKey = Dictionary(insertable.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
            for (key, id) in try insert(insertable, conn: conn) {
                guard let o = byKey[key] else { continue }
                records[key] = ObservationRecord(id: id, inserted: o)
                inserted.insert(key)
            }
        }
        let known = round.map(\.key).filter { !inserted.contains($0) }
        let stored = known.isEmpty ? [:] : try lock(known, conn: conn)
        for o in round where !inserted.contains(o.key) && stored[o.key] == nil {
            logger.debug("ignoring observation for unknown transfer", metadata: ["transfer": "\(o.key)", "target": "\(o.target.state)"])
        }

        // Known transfers: through the state machine, one UPDATE.
        var steps: [Step] = []
        var updates: [Update] = []
        for o in round {
            if inserted.contains(o.key) {
                steps.append(Step(observation: o, state: o.target.state, previous: nil, reason: nil))
                continue
            }
            guard let row = stored[o.key] else { continue }
            let previous = row.state
            let legal = !row.heldByPerson && FundingStateMachine.isLegal(from: previous, to: o.target.state)
            let newState = legal ? o.target.state : (previous ?? o.target.state)
            // A replacement reorged away while the original it replaced is back in a block: it
            // is superseded by that original (nothing was lost: no page), not `reorged_out`.
            let original = legal && o.target.reason == .reorgedOut ? try originalBackInPlay(replacedBy: o, conn: conn) : nil
            let target = original.map { FundingTarget.failedOrStuck(.replaced(by: $0)) } ?? o.target
            let reason = newState == .failedOrStuck ? (legal ? target.reason?.description : nil) : nil
            // A transfer a person holds keeps its state and reason, but still gets the chain's
            // facts: what replaced it, and a double spend away (its latch pages as ever).
            let facts = legal || row.heldByPerson
            updates.append(
                Update(
                    id: row.id, observation: o, state: newState, reason: reason, replacedBy: facts ? target.reason?.replacedBy : nil,
                    supersededBy: legal ? (original ?? o.replacement?.supersededBy) : nil, doubleSpentBy: facts ? o.replacement?.doubleSpentBy : nil))
            // A timeline step is a state change or a change of block (included, reorged out);
            // a repeated report of the same thing adds nothing.
            if previous != newState || row.blockHash != o.block?.hash {
                steps.append(Step(observation: o, state: newState, previous: previous, reason: reason))
            }
        }
        if !updates.isEmpty {
            for record in try update(updates, conn: conn) {
                records[TransferKey(chain: record.chain, txHash: record.txHash, outputIndex: record.outputIndex)] = record
            }
        }
        try appendSteps(steps, records: records, conn: conn, topic: topic)
    }

    // MARK: - Statements

    /// The transfer that `o` (a replacement) replaced on the same handle, when it is in play
    /// again (back in a block after the reorg that took `o` away): its tx hash, else nil. The
    /// original keeps `replaced_by` whatever its state since, so this survives a restart.
    private static func originalBackInPlay(replacedBy o: ChainObservation, conn: PGConnection) throws -> String? {
        try conn.query(
            """
            SELECT tx_hash FROM funding_observations
            WHERE chain = $1 AND address = $2 AND replaced_by = $3 AND state <> 'FAILED_OR_STUCK' AND block_hash IS NOT NULL
            ORDER BY id LIMIT 1
            """, [o.key.chain, o.address, o.key.txHash]
        ).first?["tx_hash"]
    }

    /// Locks the stored rows of `keys` (in id order, so concurrent writers cannot deadlock):
    /// one probe of the unique index per key (`indexScansOnly`: never a scan of the table).
    private static func lock(_ keys: [TransferKey], conn: PGConnection) throws -> [TransferKey: Stored] {
        try conn.indexScansOnly()
        let rows = try conn.query(
            """
            SELECT f.id, f.chain, f.tx_hash, f.output_index, f.state, f.block_hash, f.reason
            FROM unnest($1::text[], $2::text[], $3::int[]) AS k(k_chain, k_tx_hash, k_output_index)
            JOIN funding_observations f ON f.chain = k_chain AND f.tx_hash = k_tx_hash AND f.output_index = k_output_index
            ORDER BY f.id FOR UPDATE OF f
            """,
            [PGArray.literal(keys.map(\.chain)), PGArray.literal(keys.map(\.txHash)), PGArray.literal(keys.map { String($0.outputIndex) })])
        var out: [TransferKey: Stored] = [:]
        for row in rows {
            guard let id = row.int("id"), let chain = row["chain"], let tx = row["tx_hash"], let index = row.int("output_index") else {
                throw PostgresError.unexpectedResult("locked observation row without its key")
            }
            out[TransferKey(chain: chain, txHash: tx, outputIndex: index)] = Stored(
                id: id, state: row["state"].flatMap(FundingState.init(rawValue:)), blockHash: row["block_hash"],
                heldByPerson: row["state"] == FundingState.failedOrStuck.rawValue && row["reason"]?.hasPrefix(FundingReason.manualPrefix) == true)
        }
        return out
    }

    /// Inserts new transfers; returns the id of each row inserted (a row a concurrent writer
    /// inserted first is not). The rest of the row is what was sent: no need to read it back.
    private static func insert(_ observations: [ChainObservation], conn: PGConnection) throws -> [(TransferKey, Int)] {
        func column(_ value: (ChainObservation) -> String?) -> String? { PGArray.literal(observations.map(value)) }
        return try conn.queryPrepared(
            """
            INSERT INTO funding_observations (chain, network, asset, address, tx_hash, output_index, amount, state,
                confirmations, block_height, block_hash, first_seen_at, confirmed_at, updated_at, state_since)
            SELECT u_chain, u_network, u_asset, u_address, u_tx_hash, u_output_index, u_amount, u_state, u_confirmations,
                   u_block_height, u_block_hash, u_at, CASE WHEN u_state = 'SEEN_CONFIRMED' THEN u_at END, u_at, u_at
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::numeric[], $8::text[],
                        $9::int[], $10::bigint[], $11::text[], $12::timestamptz[]) WITH ORDINALITY
                 AS u(u_chain, u_network, u_asset, u_address, u_tx_hash, u_output_index, u_amount, u_state, u_confirmations,
                      u_block_height, u_block_hash, u_at, u_ord)
            ORDER BY u_ord
            ON CONFLICT (chain, tx_hash, output_index) DO NOTHING
            RETURNING id, chain, tx_hash, output_index
            """,
            [
                column(\.key.chain), column(\.network), column(\.asset), column(\.address), column(\.key.txHash),
                column { String($0.key.outputIndex) }, column(\.amount.description), column(\.target.state.rawValue),
                column { String($0.confirmations) }, column { $0.block.map { String($0.height) } }, column(\.block?.hash),
                column { Timestamp.string($0.observedAt) },
            ]
        ).map { row in
            guard let id = row.int("id"), let chain = row["chain"], let tx = row["tx_hash"], let index = row.int("output_index") else {
                throw PostgresError.unexpectedResult("inserted observation row without its key")
            }
            return (TransferKey(chain: chain, txHash: tx, outputIndex: index), id)
        }
    }

    /// One stored transfer's new state and chain fields.
    private struct Update {
        let id: Int
        let observation: ChainObservation
        let state: FundingState
        let reason: String?
        let replacedBy: String?
        let supersededBy: String?
        let doubleSpentBy: String?
    }

    /// Planned for each call, like `lock` (and, like it, by index: it runs after `lock`).
    private static func update(_ updates: [Update], conn: PGConnection) throws -> [ObservationRecord] {
        func column(_ value: (Update) -> String?) -> String? { PGArray.literal(updates.map(value)) }
        return try conn.query(
            """
            UPDATE funding_observations SET state = u_state,
                state_since = CASE WHEN state <> u_state THEN u_at ELSE state_since END,
                reason = CASE WHEN u_state = 'FAILED_OR_STUCK' THEN COALESCE(u_reason, reason) ELSE NULL END,
                replaced_by = COALESCE(u_replaced_by, replaced_by),
                superseded_by = CASE WHEN u_state = 'FAILED_OR_STUCK' THEN COALESCE(u_superseded_by, superseded_by) END,
                double_spent_by = COALESCE(u_double_spent_by, double_spent_by), confirmations = u_confirmations,
                block_height = u_block_height, block_hash = u_block_hash,
                confirmed_at = CASE WHEN u_state = 'SEEN_CONFIRMED' AND confirmed_at IS NULL THEN u_at ELSE confirmed_at END,
                demoted_at_height = CASE WHEN u_block_height IS NOT NULL THEN NULL ELSE demoted_at_height END,
                updated_at = u_at
            FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::int[], $6::bigint[], $7::text[], $8::timestamptz[],
                        $9::text[], $10::text[])
                 AS u(u_id, u_state, u_reason, u_replaced_by, u_confirmations, u_block_height, u_block_hash, u_at,
                      u_superseded_by, u_double_spent_by)
            WHERE id = u_id
            RETURNING \(FundingRepository.columns)
            """,
            [
                column { String($0.id) }, column(\.state.rawValue), column(\.reason), column(\.replacedBy),
                column { String($0.observation.confirmations) }, column { $0.observation.block.map { String($0.height) } },
                column(\.observation.block?.hash), column { Timestamp.string($0.observation.observedAt) },
                column(\.supersededBy), column(\.doubleSpentBy),
            ]
        ).map(ObservationRecord.init(row:))
    }

    /// One timeline step to append.
    private struct Step {
        let observation: ChainObservation
        let state: FundingState
        let previous: FundingState?
        let reason: String?
    }

    /// Appends the steps' events and their outbox rows, in the order of the steps.
    private static func appendSteps(_ steps: [Step], records: [TransferKey: ObservationRecord], conn: PGConnection, topic: String) throws {
        var events: [FundingRepository.TimelineEvent] = []
        for step in steps {
            guard let record = records[step.observation.key] else {
                throw PostgresError.unexpectedResult("observation \(step.observation.key) vanished inside its transaction")
            }
            var event = FundingRepository.TimelineEvent(
                record: record, kind: step.observation.kind.rawValue, state: step.state, previous: step.previous,
                reason: step.reason, at: Timestamp.string(step.observation.observedAt))
            event.details = step.observation.replacement?.details
            events.append(event)
        }
        try FundingRepository.insertEvents(events, conn: conn, topic: topic)
    }
}

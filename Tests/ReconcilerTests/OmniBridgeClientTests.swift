import Foundation
import Reconciler
import Testing
import WatchCore
import WatchTesting

/// The Omni Bridge client against the API double built to reference/omni-bridge.md: the deposit
/// message's exact bytes (its address is derived from them), per-output status in either
/// spelling, not indexed yet, unknown statuses kept, errors with the API's text.
@Suite struct OmniBridgeClientTests {
    @Test func theIntentsDepositMessageHasTheContractsBytesAndComesBackFromThem() throws {
        let message = OmniDepositMessage.intents(account: "mm.near")
        #expect(String(decoding: message.bytes, as: UTF8.self) == #"{"recipient_id":"intents.near","safe_deposit":{"msg":"{\"receiver_id\":\"mm.near\"}"}}"#)
        #expect(message.intentsAccount == "mm.near")
        #expect(message.path.count == 64)
        // Stored bytes read back give the same message, hence the same address; other bytes
        // (another spacing) are another message and are not re-sent as this one.
        #expect(OmniDepositMessage(bytes: message.bytes) == message)
        #expect(OmniDepositMessage(bytes: Array(#"{"recipient_id": "intents.near"}"#.utf8)) == nil)
        let refund = OmniDepositMessage.intents(account: "mm.near", refundAddress: "bc1qrefund")
        #expect(String(decoding: refund.bytes, as: UTF8.self).hasSuffix(#","refund_address":"bc1qrefund"}"#))
        #expect(refund.path != message.path)
    }

    @Test func aDepositAddressIsTheSameForTheSameMessageAndAnotherForAnother() async throws {
        let api = try await OmniAPIDouble.start()
        defer { api.stop() }
        let client = OmniBridgeClient(baseURL: api.url)
        let first = try await client.depositAddress(.intents(account: "mm.near"))
        #expect(try await client.depositAddress(.intents(account: "mm.near")) == first)
        #expect(try await client.depositAddress(.intents(account: "other.near")) != first)
        #expect(first == "omni-" + OmniDepositMessage.intents(account: "mm.near").path.prefix(24))
    }

    @Test func statusesPerOutputInEitherSpellingAndNotIndexedYet() async throws {
        let api = try await OmniAPIDouble.start()
        defer { api.stop() }
        let client = OmniBridgeClient(baseURL: api.url)
        let tx = String(repeating: "ab", count: 32)
        #expect(try await client.status(txHash: tx, vout: 0) == .notIndexed)
        #expect(try await client.transfer(txHash: tx, vout: 0) == nil)
        // Two outputs of one transaction are two transfers.
        api.addTransfer(txHash: tx, vout: 0, amount: "150000", statuses: ["Initialized"])
        api.addTransfer(txHash: tx, vout: 1, amount: "250000", statuses: ["Initialised"])
        #expect(try await client.status(txHash: tx, vout: 0) == .known(.initialised))
        #expect(try await client.status(txHash: tx, vout: 1) == .known(.initialised))
        api.advance(txHash: tx, vout: 1, to: "Finalised", nearTxHash: "NearTx111")
        #expect(try await client.status(txHash: tx, vout: 1) == .known(.finalised))
        #expect(try await client.status(txHash: tx, vout: 0) == .known(.initialised))
        let transfer = try #require(try await client.transfer(txHash: tx, vout: 1))
        #expect(transfer.amount == Amount(decimal: "250000") && transfer.nearTxHash == "NearTx111" && transfer.status == .finalised)
        #expect(transfer.status?.isDelivered == true)
        // The old spelling of the last step, and a status nobody documented: kept, not terminal.
        api.advance(txHash: tx, vout: 1, to: "Claimed")
        #expect(try await client.status(txHash: tx, vout: 1) == .known(.settled))
        api.advance(txHash: tx, vout: 0, to: "PendingReview")
        let unknown = try await client.status(txHash: tx, vout: 0)
        #expect(unknown == .known(.unknown("PendingReview")))
        if case .known(let status) = unknown { #expect(!status.isDelivered) }
    }

    @Test func anAPIDownOrRefusingIsAnErrorWithItsText() async throws {
        let api = try await OmniAPIDouble.start()
        defer { api.stop() }
        let client = OmniBridgeClient(baseURL: api.url)
        api.setDown(true)
        await #expect { try await client.status(txHash: String(repeating: "cd", count: 32), vout: 0) } throws: { "\($0)".contains("503") && "\($0)".contains("temporarily unavailable") }
        await #expect { try await client.depositAddress(.intents(account: "mm.near")) } throws: { "\($0)".contains("HTTP 503") }
        api.setDown(false)
        #expect(try await client.status(txHash: String(repeating: "cd", count: 32), vout: 0) == .notIndexed)
        // A malformed txid is refused before any request (it would read as "not indexed" forever).
        let before = api.requests("status")
        await #expect(throws: OmniBridgeClient.Failure.self) { try await client.status(txHash: "abc", vout: 0) }
        #expect(api.requests("status") == before)
        // A status that is no status word (a page of text, a NUL) is refused, not kept as one.
        let tx = String(repeating: "ef", count: 32)
        api.addTransfer(txHash: tx, vout: 0, amount: "1000", statuses: [String(repeating: "Finalised", count: 40)])
        await #expect { try await client.transfer(txHash: tx, vout: 0) } throws: { "\($0)".contains("is not a status word") }
        api.advance(txHash: tx, vout: 0, to: "Initialised\u{0}")
        await #expect { try await client.status(txHash: tx, vout: 0) } throws: { "\($0)".contains("is not a status word") }
    }
}

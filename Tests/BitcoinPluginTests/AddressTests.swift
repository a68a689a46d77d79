import Testing
import WatchCore

@testable import BitcoinPlugin

@Suite("Addresses")
struct AddressTests {
    static func network(_ name: String?) -> BitcoinNetwork? {
        switch name {
        case nil, "bitcoin": .mainnet
        case "testnet": .testnet
        case "regtest": .regtest
        default: nil
        }
    }

    /// Decodes to `script` and re-encodes to the same (lowercased for bech32) address.
    static func expectRoundTrip(
        _ address: String, _ script: [UInt8], _ network: BitcoinNetwork,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            let decoded = try AddressCodec.scriptPubKey(for: address, network: network)
            #expect(Hex.encode(decoded) == Hex.encode(script), "\(address)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(address) rejected on \(network): \(error)", sourceLocation: sourceLocation)
        }
        let isBech32 = address.lowercased().hasPrefix(network.bech32HRP + "1")
        let expected = isBech32 ? address.lowercased() : address
        #expect(AddressCodec.address(forScript: script, network: network) == expected, sourceLocation: sourceLocation)
    }

    static func expectRejectedEverywhere(_ address: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for network in BitcoinNetwork.allCases {
            #expect(throws: AddressError.self, "\(address) on \(network)", sourceLocation: sourceLocation) {
                try AddressCodec.decode(address, network: network)
            }
        }
    }

    static func reason(_ address: String, _ network: BitcoinNetwork) -> AddressError.Reason? {
        do {
            _ = try AddressCodec.decode(address, network: network)
            return nil
        } catch {
            return error.reason
        }
    }

    @Test("BIP173/BIP350 examples and rejections")
    func bipExamples() throws {
        #expect(
            try Hex.encode(
                AddressCodec.scriptPubKey(for: "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", network: .mainnet))
                == "0014751e76e8199196d454941c45d1b3a323f1433bd6")
        let taproot = try AddressCodec.decode(
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", network: .mainnet)
        #expect(taproot.type == .p2tr)
        #expect(
            Hex.encode(taproot.scriptPubKey) == "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
        // Mixed case.
        #expect(Self.reason("bc1qW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", .mainnet) == .mixedCase)
        // Wrong network, with an operator-readable description.
        let wrong = #expect(throws: AddressError.self) {
            try AddressCodec.decode("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", network: .regtest)
        }
        #expect(wrong?.reason == .wrongNetwork(addressNetwork: "mainnet", configured: "regtest"))
        #expect(
            wrong?.description
                == "address bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4 is for mainnet but the configured network is regtest"
        )
        // v1 with a bech32 (not bech32m) checksum, and v0 with bech32m.
        #expect(
            Self.reason("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", .mainnet)
                == .wrongChecksumVariant(version: 1, used: .bech32))
        #expect(
            Self.reason("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", .mainnet)
                == .wrongChecksumVariant(version: 0, used: .bech32m))
        // v0 programs must be 20 or 32 bytes (BIP173 invalid vector).
        #expect(
            Self.reason("BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", .mainnet)
                == .invalidProgramLength(version: 0, length: 16))
        // Over 90 characters.
        let long = "bc1" + String(repeating: "q", count: 88)
        #expect(Self.reason(long, .mainnet) == .tooLong(91))
        // testnet and signet share tb; regtest uses bcrt.
        let tb = "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7"
        #expect(
            try AddressCodec.scriptPubKey(for: tb, network: .signet)
                == AddressCodec.scriptPubKey(for: tb, network: .testnet))
        #expect(Self.reason(tb, .regtest) == .wrongNetwork(addressNetwork: "testnet or signet", configured: "regtest"))
        // Base58 test prefixes are shared by testnet, signet and regtest.
        let m = "mrCDrCybB6J1vRfbwM5hemdJz73FwDBC8r"
        #expect(try AddressCodec.decode(m, network: .regtest).type == .p2pkh)
        #expect(
            Self.reason(m, .mainnet)
                == .wrongNetwork(addressNetwork: "testnet, signet or regtest", configured: "mainnet"))
        #expect(Self.reason("", .mainnet) == .empty)
    }

    @Test("bitcoinjs address.json: standard and bech32 pairs round-trip, invalid ones are rejected")
    func bitcoinjsAddressFixture() throws {
        let root = try #require(try Fixtures.json("bitcoinjs-address.json") as? [String: Any])
        let standard = try #require(root["standard"] as? [[String: Any]])
        var checked = 0
        for entry in standard {
            let address = try #require(entry.string("base58check") ?? entry.string("bech32"))
            guard let network = Self.network(entry.string("network")) else {
                // Litecoin entries: not Bitcoin addresses.
                #expect(Self.reason(address, .mainnet) != nil)
                continue
            }
            Self.expectRoundTrip(address, scriptFromASM(try #require(entry.string("script"))), network)
            checked += 1
        }
        #expect(checked == 14)
        for entry in try #require(root["bech32"] as? [[String: Any]]) {
            let address = try #require(entry.string("address"))
            let version = try #require(entry["version"] as? Int)
            let program = hex(try #require(entry.string("data")))
            let network: BitcoinNetwork = entry.string("prefix") == "tb" ? .testnet : .mainnet
            let script = [version == 0 ? 0 : UInt8(0x50 + version), UInt8(program.count)] + program
            Self.expectRoundTrip(address, script, network)
        }
        let invalid = try #require(root.object("invalid"))
        for entry in try #require(invalid["bech32"] as? [[String: Any]]) {
            let address = try #require(entry.string("address"))
            Self.expectRejectedEverywhere(address)
            let network: BitcoinNetwork = address.lowercased().hasPrefix("tb") ? .testnet : .mainnet
            let reason = Self.reason(address, network)
            switch entry.string("exception") {
            case "Mixed-case string": #expect(reason == .mixedCase)
            case "Invalid checksum": #expect(reason == .bech32(.invalidChecksum))
            case "Excess padding", "Non-zero padding": #expect(reason == .invalidPadding)
            case let other:
                #expect(other?.contains("wrong encoding") == true)
                if address == "bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du" {
                    // BIP173 lists this one as "zero padding of more than 4 bits", which the
                    // reference decoder checks before the checksum variant.
                    #expect(reason == .invalidPadding)
                } else if case .wrongChecksumVariant = reason {
                } else {
                    Issue.record("\(address): \(String(describing: reason))")
                }
            }
        }
        for entry in try #require(invalid["fromBase58Check"] as? [[String: Any]]) {
            Self.expectRejectedEverywhere(try #require(entry.string("address")))
        }
        for entry in try #require(invalid["fromOutputScript"] as? [[String: Any]]) {
            // Not checked here: whether a 32-byte v1 program is a valid curve point (no secp256k1).
            if entry.string("description")?.contains("x coordinate") == true { continue }
            let script = scriptFromASM(try #require(entry.string("script")))
            #expect(AddressCodec.address(forScript: script, network: .mainnet) == nil, "\(Hex.encode(script))")
        }
        var rejected = 0
        for entry in try #require(invalid["toOutputScript"] as? [[String: Any]]) {
            // Entries without `exception` fail only bitcoinjs's curve-point check.
            guard entry["exception"] != nil else { continue }
            let address = try #require(entry.string("address"))
            if let prefix = entry.object("network")?.string("bech32"), prefix == "foo" {
                // Valid on mainnet; bitcoinjs rejects it only for a made-up "foo" network.
                #expect(Self.reason(address, .mainnet) == nil)
                #expect(Self.reason(address, .testnet) != nil)
                continue
            }
            Self.expectRejectedEverywhere(address)
            rejected += 1
        }
        #expect(rejected == 22)
    }

    @Test("bitcoinjs p2pkh/p2sh/p2wpkh/p2wsh/p2tr: every address/output pair round-trips")
    func bitcoinjsPaymentFixtures() throws {
        var pairs = 0
        var checkedInvalid = 0
        for name in ["p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr"] {
            let root = try #require(try Fixtures.json("bitcoinjs-\(name).json") as? [String: Any])
            for entry in try #require(root["valid"] as? [[String: Any]]) {
                let arguments = entry.object("arguments") ?? [:]
                let expected = entry.object("expected") ?? [:]
                guard let address = arguments.string("address") ?? expected.string("address"),
                    let output = arguments.string("output") ?? expected.string("output")
                else { continue }
                let network = try #require(Self.network(expected.string("network") ?? arguments.string("network")))
                let script = scriptFromASM(output)
                Self.expectRoundTrip(address, script, network)
                #expect(AddressType.classify(script)?.description == name.uppercased())
                pairs += 1
            }
            for entry in try #require(root["invalid"] as? [[String: Any]]) {
                let arguments = entry.object("arguments") ?? [:]
                guard arguments.count == 1, let address = arguments.string("address") else { continue }
                let exception = entry.string("exception") ?? ""
                // Curve-point validity of a P2TR key is out of scope (no secp256k1 here).
                if exception.contains("pubkey") { continue }
                if exception == "Invalid address" { Self.expectRejectedEverywhere(address) }
                // Whatever the reason, the address never decodes as this template on mainnet.
                let decoded = try? AddressCodec.decode(address, network: .mainnet)
                #expect(decoded == nil || decoded?.type.description != name.uppercased(), "\(address)")
                checkedInvalid += 1
            }
        }
        #expect(pairs == 62)
        #expect(checkedInvalid == 15)
    }

    @Test("Bitcoin Core base58_keys_valid addresses round-trip; private keys skipped")
    func coreBase58Keys() throws {
        let rows = try #require(try Fixtures.json("core-base58_keys_valid.json") as? [[Any]])
        var checked = 0
        for row in rows {
            let meta = try #require(row[2] as? [String: Any])
            if meta["isPrivkey"] as? Bool == true { continue }
            let address = try #require(row[0] as? String)
            let hash = hex(try #require(row[1] as? String))
            let script: [UInt8] =
                meta.string("addrType") == "pubkey"
                ? [0x76, 0xa9, 0x14] + hash + [0x88, 0xac] : [0xa9, 0x14] + hash + [0x87]
            let isTestnet = meta["isTestnet"] as? Bool == true
            let networks: [BitcoinNetwork] = isTestnet ? [.testnet, .signet, .regtest] : [.mainnet]
            for network in networks { Self.expectRoundTrip(address, script, network) }
            if case .wrongNetwork = Self.reason(address, isTestnet ? .mainnet : .regtest) {
            } else {
                Issue.record("\(address) not rejected on the other network")
            }
            checked += 1
        }
        #expect(checked == 26)
    }

    @Test("Bitcoin Core base58 encode/decode vectors")
    func coreBase58() throws {
        let rows = try #require(try Fixtures.json("core-base58_encode_decode.json") as? [[String]])
        #expect(rows.count == 12)
        for row in rows {
            #expect(Base58.encode(hex(row[0])) == row[1])
            #expect(Base58.decode(row[1]) == hex(row[0]))
        }
        #expect(Base58.decode("0OIl") == nil)
    }
}

import Testing
import WatchCore

@testable import EVMPlugin

@Suite struct KeccakAndAddressTests {
    @Test func keccakKnownVectors() {
        #expect(Keccak256.hex([UInt8]()) == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
        #expect(Keccak256.hex(Array("abc".utf8)) == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45")
        #expect(
            Keccak256.hex(Array("The quick brown fox jumps over the lazy dog".utf8))
                == "4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15")
        #expect("0x" + Keccak256.hex(Array("Transfer(address,address,uint256)".utf8)) == EVM.transferTopic)
    }

    /// The sponge across block boundaries, against Python's hashlib.sha3_256 (same permutation).
    @Test func spongeMatchesSHA3AcrossBlockBoundaries() {
        let expected: [Int: String] = [
            0: "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a",
            1: "e3ed56bd086d8958483a12734fa0ae7f5c8bb160ef9092c67e82ed9b19e4c7b2",
            55: "7b08ced19b17fcd5e225b1a8b489387e122c18d2d31a5f70325310ca210c7cfa",
            135: "d9dcf1f98e49a79b0643a9e68fef48079ff8777c5e7e7f93469ded65f192ac71",
            136: "743bd32e775ac7387a57d4d574c89ddef5ebcb08bb5cc6b88c55a27b5035cc45",
            137: "01d47e8d6dce6e3dcbf1baa6f845b6ace4ef74bd17da8176ecc49bc35dbe5d21",
            271: "20bf2d2a8b462cf032927768963867773b04bcfdbf1419d1ac06aa23637e5b19",
            272: "ddeb5151c079739970e780e6257d0c4d52d83bf82c6aa8d47d5195530b5d5f4b",
            300: "064af3405aacb53d5d77ee858fec1e6e225480de3f14f06444e2b33d92d61879",
        ]
        for (n, hex) in expected {
            let message = (0..<n).map { UInt8(($0 * 7 + 3) % 256) }
            #expect(Hex.encode(Keccak256.sha3_256(message)) == hex, "length \(n)")
        }
    }

    @Test func eip55ChecksumVectors() throws {
        // From EIP-55.
        for text in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
            EVM.eureV2, EVM.eureV1,
        ] {
            let address = try EVMAddress(text)
            #expect(address.checksummed == text)
            #expect(address.lowercased == text.lowercased())
        }
        #expect(throws: EVMAddress.Problem.checksum(expected: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")) {
            try EVMAddress("0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
        }
        _ = try EVMAddress("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")
        _ = try EVMAddress("0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED")
        for bad in ["", "0x", "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beae",
            "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaedd", "0xZaaeb6053f3e94c9b9a09f33669435e7ef1beaed"] {
            #expect(throws: EVMAddress.Problem.format) { try EVMAddress(bad) }
        }
    }

    @Test func topicPaddingRoundTrips() throws {
        let a = try EVMAddress(EVM.eureV2)
        #expect(a.topic == "0x000000000000000000000000420ca0f9b9b604ce0fd9c18ef134c705e5fa3430")
        #expect(EVMAddress(topic: a.topic) == a)
        #expect(EVMAddress(topic: "0x100000000000000000000000420ca0f9b9b604ce0fd9c18ef134c705e5fa3430") == nil)
    }
}

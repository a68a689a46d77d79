// libFuzzer target for the Bitcoin codec: TransactionParser, BlockParser and BlockScanner on
// arbitrary bytes. Every parse error is expected and swallowed; only crashes, traps (overflow,
// out-of-bounds, precondition) and AddressSanitizer reports count as findings.
//
// Built by scripts/fuzz, compiled in ONE module together with the BitcoinPlugin sources (so no
// `import BitcoinPlugin`) and linked with CSHA256 (C, also instrumented). swift-crypto is not
// linked: the codec's hashing goes through CSHA256, and `Hash256.init(digest:)` is compiled out
// by `#if canImport(Crypto)`.

/// A few P2PKH scripts paid in block 413567 (a seed), so the match/flush/address path runs.
let fuzzWatch: WatchScriptSet = {
    var set = WatchScriptSet(network: .mainnet)
    let scripts = [
        "76a91488a97d7677af08bd495e2cd909de2c0fdaaaa74088ac",
        "76a914b2dd35d5c0012559fd655ae1f740e7114e63954288ac",
        "76a914a6937a4348a4ae3b091c0d590aafb3b768666ddd88ac",
        "76a914e6e65136217fd86fe5b2f7b60e0157d7550da7be88ac",
        "0014751e76e8199196d454941c45d1b3a323f1433bd6",  // P2WPKH (BIP173 example)
    ]
    for (tag, hex) in scripts.enumerated() { _ = set.insert(script: Hex.decode(hex)!, tag: UInt32(tag)) }
    return set
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // Copy into an exactly-sized heap buffer so ASan catches any read past the input.
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    bytes.withUnsafeBytes { buffer in
        if let tx = try? TransactionParser.parse(buffer) {
            // Cross-check the two parsers on the same input.
            if let scanned = try? BlockScanner.scan(transaction: buffer, watching: fuzzWatch) {
                precondition(scanned.txid == tx.txid && scanned.wtxid == tx.wtxid, "txid mismatch")
            } else {
                preconditionFailure("TransactionParser accepted what BlockScanner rejected")
            }
        } else {
            _ = try? BlockScanner.scan(transaction: buffer, watching: fuzzWatch)
        }
        _ = try? BlockParser.parseHeader(buffer)
        let parsed = try? BlockParser.parse(buffer, verifyMerkleRoot: false)
        _ = try? BlockParser.parse(buffer, verifyMerkleRoot: true)
        let scanned = try? BlockScanner.scan(
            block: buffer, watching: fuzzWatch, verifyMerkleRoot: false, collectSpentOutpoints: true)
        _ = try? BlockScanner.scan(block: buffer, watching: fuzzWatch, verifyMerkleRoot: true)
        // Litecoin's MWEB reading: the same bytes with flag 0x08 and the MWEB block allowed.
        if let mwebTx = try? TransactionParser.parse(buffer, mweb: true),
            let mwebScanned = try? BlockScanner.scan(transaction: buffer, watching: fuzzWatch, mweb: true) {
            precondition(mwebScanned.txid == mwebTx.txid, "txid mismatch (mweb)")
        }
        _ = try? BlockParser.parse(buffer, verifyMerkleRoot: false, mweb: true)
        _ = try? BlockScanner.scan(block: buffer, watching: fuzzWatch, verifyMerkleRoot: false, collectSpentOutpoints: true, mweb: true)
        if let parsed, let scanned {
            precondition(parsed.transactions.count == scanned.transactionCount, "tx count mismatch")
        } else {
            precondition(parsed == nil && scanned == nil, "BlockParser and BlockScanner disagree")
        }
    }
    return 0
}

// unrip-bench: throughput of the Bitcoin block scanner against the SHA-256d floor, and of a
// Litecoin MWEB block against the same floor.
//
// Usage: unrip-bench [path/to/block413567.raw] [iterations]
//
// The floor is the fastest SHA-256d over the whole block this machine offers: swift-crypto
// (BoringSSL) and CSHA256 (SHA-NI or portable C) are both measured, the faster median wins.
// A scan cannot beat the floor: it must hash (nearly) every byte to compute the txids.
import BitcoinPlugin
import CSHA256
import Crypto
import Foundation
import WatchCore

let path =
    CommandLine.arguments.count > 1
    ? CommandLine.arguments[1] : "Tests/BitcoinPluginTests/Fixtures/bitcoin/block413567.raw"
let iterations = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2]) ?? 60 : 60

guard let data = FileManager.default.contents(atPath: path) else {
    FileHandle.standardError.write("cannot read \(path)\n".data(using: .utf8)!)
    exit(1)
}
let block = [UInt8](data)

/// Resident set size in MB from /proc/self/status (0 where unavailable).
func residentMB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let kb = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
        return kb / 1024
    }
    return 0
}

struct Timing {
    var best: Double
    var median: Double
}

/// Runs `body` `iterations` times (after 3 warm-up runs); returns best and median in ms.
func measure(_ body: () throws -> Void) rethrows -> Timing {
    let clock = ContinuousClock()
    for _ in 0..<3 { try body() }
    var samples: [Double] = []
    for _ in 0..<iterations {
        let elapsed = try clock.measure { try body() }
        samples.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1e3)
    }
    samples.sort()
    return Timing(best: samples[0], median: samples[samples.count / 2])
}

/// Deterministic SplitMix64 for the synthetic watch list.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

// Ten real addresses paid in this block.
let parsed = try BlockParser.parse(block)
var tenScripts: [[UInt8]] = []
for tx in parsed.transactions where tenScripts.count < 10 {
    let script = Array(block[tx.outputs[0].scriptRange])
    if AddressType.classify(script) != nil && !tenScripts.contains(script) { tenScripts.append(script) }
}
var small = WatchScriptSet(network: .mainnet)
for (i, script) in tenScripts.enumerated() {
    try small.insert(address: AddressCodec.address(forScript: script, network: .mainnet)!, tag: UInt32(i))
}

// (a) Floor: SHA-256d over the whole block, with swift-crypto and with CSHA256.
var sink: UInt8 = 0
let floorCrypto = measure {
    var hasher = SHA256()
    block.withUnsafeBytes { hasher.update(bufferPointer: $0) }
    let second = SHA256.hash(data: Array(hasher.finalize()))
    sink ^= second.withUnsafeBytes { $0[0] }
}
let floorC = measure {
    var digest = [UInt8](repeating: 0, count: 32)
    block.withUnsafeBufferPointer { csha256d($0.baseAddress, $0.count, &digest) }
    sink ^= digest[0]
}
let cImplementation = csha256_using_shani() != 0 ? "SHA-NI" : "portable C"
let floorIsCrypto = floorCrypto.median <= floorC.median
let floor = floorIsCrypto ? floorCrypto : floorC
let floorSource = floorIsCrypto ? "swift-crypto" : "CSHA256 (\(cImplementation))"

// (b) Scan with 10 watched addresses.
var matches10 = 0
let scan10 = try measure {
    let result = try BlockScanner.scan(block: block, watching: small)
    matches10 = result.matches.count
}

// Breakdown: without merkle verification, and with nothing watched.
let scanNoMerkle = try measure {
    _ = try BlockScanner.scan(block: block, watching: small, verifyMerkleRoot: false)
}
let empty = WatchScriptSet(network: .mainnet)
let scanNoWatch = try measure {
    _ = try BlockScanner.scan(block: block, watching: empty, verifyMerkleRoot: false)
}

// (c) Scan with 1,000,000 + 10 watched scripts.
let rssBefore = residentMB()
let buildStart = ContinuousClock.now
var large = WatchScriptSet(network: .mainnet, capacity: 1_000_010)
var rng = SplitMix(state: 0x756e_7269_7021)
var script = [UInt8](repeating: 0, count: 25)
for i in 0..<1_000_000 {
    let random = (rng.next(), rng.next(), rng.next())
    if i & 1 == 0 {  // P2WPKH
        script = [0x00, 0x14]
    } else {  // P2PKH
        script = [0x76, 0xa9, 0x14]
    }
    withUnsafeBytes(of: random) { script.append(contentsOf: $0.prefix(20)) }
    if i & 1 == 1 { script += [0x88, 0xac] }
    large.insert(script: script, tag: UInt32(10 + i))
}
for (i, script) in tenScripts.enumerated() { large.insert(script: script, tag: UInt32(i)) }
let buildElapsed = ContinuousClock.now - buildStart
let buildMs = Double(buildElapsed.components.seconds) * 1e3 + Double(buildElapsed.components.attoseconds) / 1e15
let rssAfter = residentMB()

var matches1M = 0
let scan1M = try measure {
    let result = try BlockScanner.scan(block: block, watching: large)
    matches1M = result.matches.count
}

// (d) A Litecoin block with MWEB, mainnet-sized: the transactions of block 413567, then the
// HogEx (two peg-outs) and the MWEB block of a block a real litecoind mined, under one header.
// The floor is SHA-256d over the bytes a scan must hash (header and transactions; the MWEB
// block is walked, not hashed); both without the merkle check (the txids are not the header's).
let mwebPath = "Tests/BitcoinPluginTests/Fixtures/litecoin/hogex-block.hex"
guard let mwebHex = try? String(contentsOfFile: mwebPath, encoding: .utf8),
    let litecoinBlock = Hex.decode(mwebHex.trimmingCharacters(in: .whitespacesAndNewlines))
else {
    FileHandle.standardError.write("cannot read \(mwebPath)\n".data(using: .utf8)!)
    exit(1)
}
let litecoinParsed = try BlockParser.parse(litecoinBlock, verifyMerkleRoot: false, mweb: true)
let hogExRange = litecoinParsed.transactions.last!.byteRange
let bitcoinTxs = block[parsed.transactions.first!.byteRange.lowerBound..<parsed.transactions.last!.byteRange.upperBound]
func compactSize(_ n: Int) -> [UInt8] {
    n < 0xfd ? [UInt8(n)] : n <= 0xffff ? [0xfd, UInt8(n & 0xff), UInt8(n >> 8)] : [0xfe] + withUnsafeBytes(of: UInt32(n).littleEndian, Array.init)
}
let mwebBlock = Array(block[0..<80]) + compactSize(parsed.transactions.count + 1) + bitcoinTxs
    + litecoinBlock[hogExRange] + litecoinBlock[hogExRange.upperBound...]
let hashedBytes = mwebBlock.count - (litecoinBlock.count - hogExRange.upperBound)
var mwebWatch = WatchScriptSet(format: UTXOChainParameters.litecoin.network("regtest")!.format)
for address in ["rltc1qcyuvjl4ndk009fj8nqkpln0twk4qj6jd2a6t8m", "mrtDmFwhJ75eidViRGnfiUkEU3g8S5Vsy7"] {
    _ = try mwebWatch.insert(address: address, tag: 0)
}
let mwebFloor = measure {
    mwebBlock.withUnsafeBufferPointer { all in
        let hashed = UnsafeBufferPointer(rebasing: all[0..<hashedBytes])
        if floorIsCrypto {
            var hasher = SHA256()
            hasher.update(bufferPointer: UnsafeRawBufferPointer(hashed))
            sink ^= SHA256.hash(data: Array(hasher.finalize())).withUnsafeBytes { $0[0] }
        } else {
            var digest = [UInt8](repeating: 0, count: 32)
            csha256d(hashed.baseAddress, hashed.count, &digest)
            sink ^= digest[0]
        }
    }
}
var mwebMatches = 0
let mwebScan = try measure {
    mwebMatches = try BlockScanner.scan(block: mwebBlock, watching: mwebWatch, verifyMerkleRoot: false, mweb: true).matches.count
}
let ratioMWEB = mwebScan.median / mwebFloor.median

let mb = Double(block.count) / 1_000_000
let txCount = Double(parsed.transactions.count)
func row(_ name: String, _ t: Timing) -> String {
    let mbps = mb / (t.median / 1e3)
    let tps = txCount / (t.median / 1e3)
    return "\(name.padding(toLength: 34, withPad: " ", startingAt: 0))"
        + String(format: "%8.3f %9.3f %8.2f× %8.1f %11.0f", t.best, t.median, t.median / floor.median, mbps, tps)
}
let ratioScan = scan10.median / floor.median
let ratioNoMerkle = scanNoMerkle.median / floor.median
let ratio1M = scan1M.median / scan10.median
func verdict(_ ok: Bool) -> String { ok ? "OK" : "MISSED" }

print("unrip-bench: Bitcoin block scan vs. the SHA-256d floor (release build)")
print("block \(path): \(block.count) bytes, \(parsed.transactions.count) txs")
print("each case: 3 warm-up runs, then \(iterations) timed runs; best and median wall time in ms;")
print("× floor = median / floor median; MB/s and tx/s from the median. Parser hashing: CSHA256 (\(cImplementation)).")
print("")
print("case                                best ms median ms  × floor     MB/s        tx/s")
print(row("floor A: sha256d, swift-crypto", floorCrypto))
print(row("floor B: sha256d, CSHA256", floorC))
print("  floor = \(floorIsCrypto ? "A" : "B") (\(floorSource)), the faster median")
print(row("scan, 10 watched (+merkle check)", scan10))
print(row("scan, 1,000,010 watched (+merkle)", scan1M))
print(row("  10 watched, no merkle check", scanNoMerkle))
print(row("  none watched, no merkle check", scanNoWatch))
print("")
print(String(format: "scan/floor, with merkle check    = %.2f  (target ≤ 2.00: %@)", ratioScan, verdict(ratioScan <= 2.0)))
print(String(format: "scan/floor, without merkle check = %.2f", ratioNoMerkle))
print(String(format: "1M-watched/10-watched            = %.2f  (target ≤ 1.20: %@)", ratio1M, verdict(ratio1M <= 1.2)))
print(
    String(
        format: "MWEB block (%d bytes: block 413567's transactions + a litecoind HogEx and MWEB block; %d hashed): scan %.3f ms, floor %.3f ms; scan/floor = %.2f  (target ≤ 2.00: %@); peg-outs found: %d",
        mwebBlock.count, hashedBytes, mwebScan.median, mwebFloor.median, ratioMWEB, verdict(ratioMWEB <= 2.0), mwebMatches))
print(
    String(
        format: "1M watch set: built in %.0f ms, RSS %.0f MB → %.0f MB (+%.0f MB); matches: 10-set %d, 1M-set %d",
        buildMs, rssBefore, rssAfter, rssAfter - rssBefore, matches10, matches1M))

func json(_ t: Timing) -> String {
    String(
        format: "{\"ms_best\":%.3f,\"ms_median\":%.3f,\"mb_per_s\":%.1f,\"tx_per_s\":%.0f}",
        t.best, t.median, mb / (t.median / 1e3), txCount / (t.median / 1e3))
}
print("")
print(
    "{\"block_bytes\":\(block.count),\"transactions\":\(parsed.transactions.count),\"iterations\":\(iterations),"
        + "\"csha256_impl\":\"\(cImplementation)\",\"floor_source\":\"\(floorSource)\","
        + "\"floor\":\(json(floor)),\"floor_swift_crypto\":\(json(floorCrypto)),\"floor_csha256\":\(json(floorC)),"
        + "\"scan_10\":\(json(scan10)),\"scan_1m\":\(json(scan1M)),"
        + "\"scan_10_no_merkle\":\(json(scanNoMerkle)),\"scan_none_no_merkle\":\(json(scanNoWatch)),"
        + String(
            format: "\"ratio_scan_floor\":%.3f,\"ratio_scan_floor_no_merkle\":%.3f,\"ratio_1m_10\":%.3f,",
            ratioScan, ratioNoMerkle, ratio1M)
        + String(
            format: "\"build_1m_ms\":%.0f,\"rss_before_mb\":%.0f,\"rss_after_mb\":%.0f,\"rss_1m_delta_mb\":%.0f,",
            buildMs, rssBefore, rssAfter, rssAfter - rssBefore)
        + String(format: "\"mweb_block_bytes\":%d,\"mweb_hashed_bytes\":%d,\"mweb_scan_ms_median\":%.3f,\"mweb_floor_ms_median\":%.3f,\"ratio_mweb_scan_floor\":%.3f,", mwebBlock.count, hashedBytes, mwebScan.median, mwebFloor.median, ratioMWEB)
        + "\"matches_10\":\(matches10),\"matches_1m\":\(matches1M),\"mweb_matches\":\(mwebMatches),\"sink\":\(sink)}")

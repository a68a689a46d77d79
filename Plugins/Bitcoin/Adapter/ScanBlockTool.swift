import Foundation
import WatchCore

/// `unrip-watch bitcoin scan-block`: one JSON line per output paying a watched address.
public enum ScanBlockTool {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public static func run(chain: String = "bitcoin", network: String, watch addresses: [String], file: String) throws -> [String] {
        guard let parameters = UTXOChainParameters.named(chain) else {
            throw Failure(description: "--chain \(chain): expected \(UTXOChainParameters.builtIn.map(\.name).joined(separator: " or "))")
        }
        guard let net = parameters.network(network) else {
            throw Failure(description: "--network \(network): expected \(parameters.networks.map(\.name).joined(separator: ", ")) for \(chain)")
        }
        guard !addresses.isEmpty else { throw Failure(description: "give at least one --watch <address>") }
        var watch = WatchScriptSet(format: net.format, capacity: addresses.count)
        for (i, address) in addresses.enumerated() {
            do {
                _ = try watch.insert(address: address, tag: UInt32(i))
            } catch {
                throw Failure(description: "--watch \(address): \(error)")
            }
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw Failure(description: "\(file): not found or not readable")
        }
        var bytes = [UInt8](data)
        // Accept hex text (as `getblock <hash> 0` prints) as well as raw bytes.
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if !text.isEmpty, text.utf8.count % 2 == 0, text.utf8.allSatisfy({ $0 < 128 && Character(UnicodeScalar($0)).isHexDigit }) {
            bytes = Hex.decode(text) ?? bytes
        }
        let result: BlockScanResult
        do {
            result = try BlockScanner.scan(block: bytes, watching: watch, mweb: parameters.mweb)
        } catch {
            throw Failure(description: "\(file): not a valid block: \(error)")
        }
        return result.matches.map { m in
            JSONValue.object([
                "txid": .string(m.txid.displayHex), "vout": .int(Int64(m.vout)), "value_sats": .int(m.valueSats),
                "address": .string(m.address),
            ]).serialized()
        }
    }
}

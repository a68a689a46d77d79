/// Why an address string cannot be used on the configured network.
public struct AddressError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What is wrong with the address.
    public enum Reason: Equatable, Sendable {
        case empty
        /// Neither valid Base58Check nor valid bech32/bech32m.
        case notBase58OrBech32
        /// Base58 decoding failed: bad character or checksum.
        case invalidBase58Checksum
        /// Base58Check payload is not 1 version byte + 20 bytes.
        case invalidBase58Length(Int)
        /// Base58 version byte is not a P2PKH/P2SH version of any known chain.
        case unknownVersionByte(UInt8)
        /// The address belongs to another network (`addressNetwork` names it).
        case wrongNetwork(addressNetwork: String, configured: String)
        /// Bech32 human-readable part is not one of any known chain.
        case unknownHRP(String)
        /// The bech32 string is malformed.
        case bech32(Bech32.DecodingError)
        /// Mixed upper and lower case.
        case mixedCase
        /// Longer than 90 characters.
        case tooLong(Int)
        /// No witness version in the data part.
        case missingWitnessVersion
        /// Witness version above 16.
        case invalidWitnessVersion(UInt8)
        /// Version 0 must use bech32, versions 1–16 bech32m.
        case wrongChecksumVariant(version: UInt8, used: Bech32.Variant)
        /// More than 4 padding bits or nonzero padding.
        case invalidPadding
        /// Program outside 2–40 bytes, or a v0 program that is not 20 or 32 bytes.
        case invalidProgramLength(version: UInt8, length: Int)
    }

    /// The address as given.
    public var address: String
    public var reason: Reason

    public init(address: String, reason: Reason) {
        self.address = address
        self.reason = reason
    }

    public var description: String {
        let a = "address \(address)"
        switch reason {
        case .empty: return "address is empty"
        case .notBase58OrBech32: return "\(a) is neither a Base58Check nor a bech32/bech32m address"
        case .invalidBase58Checksum: return "\(a) has an invalid Base58Check character or checksum"
        case .invalidBase58Length(let n):
            return "\(a) decodes to \(n) bytes; a Base58Check address has 21 (version + 20-byte hash)"
        case .unknownVersionByte(let v):
            return "\(a) has version byte 0x\(String(v, radix: 16)), which is not a P2PKH/P2SH version of this chain"
        case .wrongNetwork(let network, let configured):
            return "\(a) is for \(network) but the configured network is \(configured)"
        case .unknownHRP(let hrp): return "\(a) has prefix '\(hrp)', which is not a prefix of this chain"
        case .bech32(let error): return "\(a) is not valid bech32/bech32m (\(error))"
        case .mixedCase: return "\(a) mixes upper and lower case"
        case .tooLong(let n): return "\(a) is \(n) characters long; the maximum is 90"
        case .missingWitnessVersion: return "\(a) has no witness version"
        case .invalidWitnessVersion(let v): return "\(a) has witness version \(v); the maximum is 16"
        case .wrongChecksumVariant(let version, let used):
            let expected = version == 0 ? "bech32" : "bech32m"
            return "\(a) is witness v\(version) with a \(used.rawValue) checksum; v\(version) requires \(expected)"
        case .invalidPadding: return "\(a) has invalid padding bits in its witness program"
        case .invalidProgramLength(let version, let length):
            let rule = version == 0 ? "20 or 32 bytes for v0" : "2 to 40 bytes"
            return "\(a) has a \(length)-byte witness v\(version) program; it must be \(rule)"
        }
    }
}

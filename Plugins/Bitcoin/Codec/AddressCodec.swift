/// An address decoded for a network: its template and scriptPubKey.
public struct DecodedAddress: Hashable, Sendable {
    public var type: AddressType
    public var scriptPubKey: [UInt8]
}

/// Converts between address strings and scriptPubKeys (Base58Check, bech32, bech32m), for
/// any network of a Bitcoin-family chain (`AddressFormat`).
public enum AddressCodec {
    /// Decodes `address` for `format`, enforcing BIP173/BIP350 and Base58Check rules. An
    /// address of another network or chain among `known` is refused naming it.
    public static func decode(
        _ address: String, format: AddressFormat, known: [AddressFormat] = UTXOChainParameters.knownFormats
    ) throws(AddressError) -> DecodedAddress {
        if address.isEmpty { throw AddressError(address: address, reason: .empty) }
        let lower = address.lowercased()
        if let sep = lower.lastIndex(of: "1"), case let hrp = String(lower[..<sep]), ([format] + known).contains(where: { $0.bech32HRP == hrp }) {
            return try decodeSegwit(address, format: format, known: known)
        }
        guard let payload = Base58.decodeCheck(address) else {
            if case .success(let decoded) = Bech32.decode(address) {
                throw AddressError(address: address, reason: .unknownHRP(decoded.hrp))
            }
            throw AddressError(address: address, reason: .invalidBase58Checksum)
        }
        guard payload.count == 21 else {
            throw AddressError(address: address, reason: .invalidBase58Length(payload.count))
        }
        let version = payload[0]
        let hash = payload[1...]
        guard let type = format.base58Type(version) else {
            let wrong = format.wrongNetwork(known, where: { $0.base58Type(version) != nil })
            throw AddressError(address: address, reason: wrong ?? .unknownVersionByte(version))
        }
        let script: [UInt8] =
            type == .p2pkh ? [0x76, 0xa9, 0x14] + hash + [0x88, 0xac] : [0xa9, 0x14] + hash + [0x87]
        return DecodedAddress(type: type, scriptPubKey: script)
    }

    /// Decodes `address` for a Bitcoin `network`.
    public static func decode(_ address: String, network: BitcoinNetwork) throws(AddressError) -> DecodedAddress {
        try decode(address, format: network.format)
    }

    /// The scriptPubKey that pays to `address` on `format`.
    public static func scriptPubKey(for address: String, format: AddressFormat) throws(AddressError) -> [UInt8] {
        try decode(address, format: format).scriptPubKey
    }

    /// The scriptPubKey that pays to `address` on a Bitcoin `network`.
    public static func scriptPubKey(for address: String, network: BitcoinNetwork) throws(AddressError) -> [UInt8] {
        try decode(address, format: network.format).scriptPubKey
    }

    /// The address of a scriptPubKey on `format`, or `nil` if the script has no address form.
    /// Segwit addresses are returned in lowercase.
    public static func address(forScript script: UnsafeRawBufferPointer, format: AddressFormat) -> String? {
        guard let type = AddressType.classify(script) else { return nil }
        switch type {
        case .p2pkh:
            return Base58.encodeCheck([format.p2pkhVersion] + script[3..<23])
        case .p2sh:
            return Base58.encodeCheck([format.p2shVersion] + script[2..<22])
        case .p2wpkh, .p2wsh, .p2tr, .witness:
            let version: UInt8 = script[0] == 0 ? 0 : script[0] - 0x50
            return Bech32.encodeSegwit(hrp: format.bech32HRP, version: version, program: Array(script[2...]))
        }
    }

    /// The address of a scriptPubKey on `format`, or `nil` if the script has no address form.
    public static func address(forScript script: [UInt8], format: AddressFormat) -> String? {
        script.withUnsafeBytes { address(forScript: $0, format: format) }
    }

    /// The address of a scriptPubKey on a Bitcoin `network`.
    public static func address(forScript script: [UInt8], network: BitcoinNetwork) -> String? {
        address(forScript: script, format: network.format)
    }

    private static func decodeSegwit(_ address: String, format: AddressFormat, known: [AddressFormat]) throws(AddressError) -> DecodedAddress {
        func fail(_ reason: AddressError.Reason) -> AddressError { AddressError(address: address, reason: reason) }
        let decoded: Bech32.Decoded
        switch Bech32.decode(address) {
        case .success(let d): decoded = d
        case .failure(.mixedCase): throw fail(.mixedCase)
        case .failure(.tooLong(let n)): throw fail(.tooLong(n))
        case .failure(let error): throw fail(.bech32(error))
        }
        guard let version = decoded.data.first else { throw fail(.missingWitnessVersion) }
        guard version <= 16 else { throw fail(.invalidWitnessVersion(version)) }
        guard let program = Bech32.convertBits(Array(decoded.data.dropFirst()), from: 5, to: 8, pad: false) else {
            throw fail(.invalidPadding)
        }
        guard (2...40).contains(program.count), version != 0 || program.count == 20 || program.count == 32 else {
            throw fail(.invalidProgramLength(version: version, length: program.count))
        }
        let expected: Bech32.Variant = version == 0 ? .bech32 : .bech32m
        guard decoded.variant == expected else {
            throw fail(.wrongChecksumVariant(version: version, used: decoded.variant))
        }
        if decoded.hrp != format.bech32HRP {
            throw fail(format.wrongNetwork(known, where: { $0.bech32HRP == decoded.hrp }) ?? .unknownHRP(decoded.hrp))
        }
        let script = [version == 0 ? 0 : 0x50 + version, UInt8(program.count)] + program
        guard let type = script.withUnsafeBytes({ AddressType.classify($0) }) else {
            throw fail(.invalidProgramLength(version: version, length: program.count))
        }
        return DecodedAddress(type: type, scriptPubKey: script)
    }
}

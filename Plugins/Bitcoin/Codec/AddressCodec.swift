/// An address decoded for a network: its template and scriptPubKey.
public struct DecodedAddress: Hashable, Sendable {
    public var type: AddressType
    public var scriptPubKey: [UInt8]
}

/// Converts between address strings and scriptPubKeys (Base58Check, bech32, bech32m).
public enum AddressCodec {
    /// Decodes `address` for `network`, enforcing BIP173/BIP350 and Base58Check rules.
    ///
    /// testnet, signet and regtest share Base58 versions; testnet and signet share `tb`.
    public static func decode(_ address: String, network: BitcoinNetwork) throws(AddressError) -> DecodedAddress {
        if address.isEmpty { throw AddressError(address: address, reason: .empty) }
        let lower = address.lowercased()
        if let sep = lower.lastIndex(of: "1"), ["bc", "tb", "bcrt"].contains(String(lower[..<sep])) {
            return try decodeSegwit(address, network: network)
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
        let type: AddressType
        let isMainnet: Bool
        switch version {
        case BitcoinNetwork.mainnet.p2pkhVersion: (type, isMainnet) = (.p2pkh, true)
        case BitcoinNetwork.mainnet.p2shVersion: (type, isMainnet) = (.p2sh, true)
        case BitcoinNetwork.testnet.p2pkhVersion: (type, isMainnet) = (.p2pkh, false)
        case BitcoinNetwork.testnet.p2shVersion: (type, isMainnet) = (.p2sh, false)
        default: throw AddressError(address: address, reason: .unknownVersionByte(version))
        }
        if isMainnet != (network == .mainnet) {
            let owner = isMainnet ? "mainnet" : "testnet, signet or regtest"
            throw AddressError(address: address, reason: .wrongNetwork(addressNetwork: owner, configured: network))
        }
        let script: [UInt8] =
            type == .p2pkh ? [0x76, 0xa9, 0x14] + hash + [0x88, 0xac] : [0xa9, 0x14] + hash + [0x87]
        return DecodedAddress(type: type, scriptPubKey: script)
    }

    /// The scriptPubKey that pays to `address` on `network`.
    public static func scriptPubKey(for address: String, network: BitcoinNetwork) throws(AddressError) -> [UInt8] {
        try decode(address, network: network).scriptPubKey
    }

    /// The address of a scriptPubKey on `network`, or `nil` if the script has no address form.
    /// Segwit addresses are returned in lowercase.
    public static func address(forScript script: UnsafeRawBufferPointer, network: BitcoinNetwork) -> String? {
        guard let type = AddressType.classify(script) else { return nil }
        switch type {
        case .p2pkh:
            return Base58.encodeCheck([network.p2pkhVersion] + script[3..<23])
        case .p2sh:
            return Base58.encodeCheck([network.p2shVersion] + script[2..<22])
        case .p2wpkh, .p2wsh, .p2tr, .witness:
            let version: UInt8 = script[0] == 0 ? 0 : script[0] - 0x50
            return Bech32.encodeSegwit(hrp: network.bech32HRP, version: version, program: Array(script[2...]))
        }
    }

    /// The address of a scriptPubKey on `network`, or `nil` if the script has no address form.
    public static func address(forScript script: [UInt8], network: BitcoinNetwork) -> String? {
        script.withUnsafeBytes { address(forScript: $0, network: network) }
    }

    private static func decodeSegwit(_ address: String, network: BitcoinNetwork) throws(AddressError) -> DecodedAddress
    {
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
        if decoded.hrp != network.bech32HRP {
            let owner =
                switch decoded.hrp {
                case "bc": "mainnet"
                case "tb": "testnet or signet"
                default: "regtest"
                }
            throw fail(.wrongNetwork(addressNetwork: owner, configured: network))
        }
        let script = [version == 0 ? 0 : 0x50 + version, UInt8(program.count)] + program
        guard let type = script.withUnsafeBytes({ AddressType.classify($0) }) else {
            throw fail(.invalidProgramLength(version: version, length: program.count))
        }
        return DecodedAddress(type: type, scriptPubKey: script)
    }
}

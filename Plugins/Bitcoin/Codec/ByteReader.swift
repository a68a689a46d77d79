/// A bounds-checked, non-allocating cursor over raw bytes.
///
/// The reader does not own its memory: it is only valid inside the
/// `withUnsafeBytes` scope that produced the buffer. Offsets are relative to
/// the start of that buffer, so error offsets point into the caller's data.
struct ByteReader {
    /// `MAX_SIZE` from Bitcoin Core `serialize.h`: the largest CompactSize accepted as a size.
    static let maxSize: UInt64 = 0x0200_0000

    /// Start of the buffer (a dangling-safe dummy when the buffer is empty).
    let base: UnsafeRawPointer
    /// Total number of readable bytes.
    let count: Int
    /// Current read position.
    var offset: Int

    init(_ buffer: UnsafeRawBufferPointer, offset: Int = 0) {
        // An empty buffer may have a nil base; any non-nil pointer works because nothing is read.
        base = buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 0x10)!
        count = buffer.count
        self.offset = offset
    }

    /// Bytes left to read.
    var remaining: Int { count &- offset }

    /// Pointer to the current position (valid for `remaining` bytes).
    var pointer: UnsafeRawPointer { base + offset }

    /// Throws `truncated` unless `n` more bytes are available.
    @inline(__always)
    func require(_ n: Int) throws(BitcoinParseError) {
        if n > count &- offset {
            throw BitcoinParseError.truncated(offset: offset, needed: n &- (count &- offset))
        }
    }

    /// Advances over `n` bytes without reading them; returns the start offset.
    @inline(__always)
    @discardableResult
    mutating func skip(_ n: Int) throws(BitcoinParseError) -> Int {
        try require(n)
        let start = offset
        offset &+= n
        return start
    }

    @inline(__always)
    mutating func readUInt8() throws(BitcoinParseError) -> UInt8 {
        try require(1)
        let v = base.load(fromByteOffset: offset, as: UInt8.self)
        offset &+= 1
        return v
    }

    @inline(__always)
    mutating func readUInt16LE() throws(BitcoinParseError) -> UInt16 {
        try require(2)
        let v = UInt16(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
        offset &+= 2
        return v
    }

    @inline(__always)
    mutating func readUInt32LE() throws(BitcoinParseError) -> UInt32 {
        try require(4)
        let v = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
        offset &+= 4
        return v
    }

    @inline(__always)
    mutating func readUInt64LE() throws(BitcoinParseError) -> UInt64 {
        try require(8)
        let v = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        offset &+= 8
        return v
    }

    @inline(__always)
    mutating func readInt32LE() throws(BitcoinParseError) -> Int32 {
        Int32(bitPattern: try readUInt32LE())
    }

    @inline(__always)
    mutating func readInt64LE() throws(BitcoinParseError) -> Int64 {
        Int64(bitPattern: try readUInt64LE())
    }

    /// Reads a 32-byte hash in internal order.
    @inline(__always)
    mutating func readHash() throws(BitcoinParseError) -> Hash256 {
        try require(32)
        let h = Hash256(loadingFrom: base + offset)
        offset &+= 32
        return h
    }

    /// Reads a CompactSize exactly like Core's `ReadCompactSize(range_check)`:
    /// non-minimal encodings throw `nonCanonicalCompactSize`, and with
    /// `rangeCheck` values above `MAX_SIZE` throw `sizeTooLarge`.
    @inline(__always)
    mutating func readCompactSize(rangeCheck: Bool = true) throws(BitcoinParseError) -> UInt64 {
        let start = offset
        let first = try readUInt8()
        let value: UInt64
        switch first {
        case 0..<0xfd:
            return UInt64(first)
        case 0xfd:
            value = UInt64(try readUInt16LE())
            if value < 0xfd { throw BitcoinParseError.nonCanonicalCompactSize(offset: start) }
        case 0xfe:
            value = UInt64(try readUInt32LE())
            if value < 0x1_0000 { throw BitcoinParseError.nonCanonicalCompactSize(offset: start) }
        default:
            value = try readUInt64LE()
            if value < 0x1_0000_0000 { throw BitcoinParseError.nonCanonicalCompactSize(offset: start) }
        }
        if rangeCheck && value > ByteReader.maxSize {
            throw BitcoinParseError.sizeTooLarge(value: value, offset: start)
        }
        return value
    }

    /// Reads a range-checked CompactSize as an `Int` (always ≤ `MAX_SIZE`).
    @inline(__always)
    mutating func readSize() throws(BitcoinParseError) -> Int {
        Int(truncatingIfNeeded: try readCompactSize())
    }

    /// Reads a CompactSize length and skips that many bytes; returns the byte range skipped.
    @inline(__always)
    mutating func skipVarBytes() throws(BitcoinParseError) -> Range<Int> {
        let length = try readSize()
        let start = try skip(length)
        return start..<(start &+ length)
    }
}

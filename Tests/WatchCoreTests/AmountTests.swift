import Testing
import WatchCore

@Suite struct AmountTests {
    @Test func decimalRoundTripsUpToUint256Max() {
        let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935"
        #expect(Amount(decimal: max)?.description == max)
        #expect(Amount(decimal: "115792089237316195423570985008687907853269984665640564039457584007913129639936") == nil)
        #expect(Amount(decimal: "0")?.description == "0")
        #expect(Amount(decimal: "2100000000000000")?.uint64 == 2_100_000_000_000_000)
        // 1.5 EURe in base units (18 decimals) stays exact.
        #expect(Amount(decimal: "1500000000000000000")?.description == "1500000000000000000")
    }

    @Test func rejectsNonDecimalText() {
        for bad in ["", "-1", "1.5", " 1", "1e18", "0x10", "１"] { #expect(Amount(decimal: bad) == nil, "\(bad)") }
    }

    @Test func hexParsesEVMQuantitiesExactly() {
        #expect(Amount(hex: "0x0")?.description == "0")
        #expect(Amount(hex: "0x14d1120d7b160000")?.description == "1500000000000000000")
        #expect(Amount(hex: "0x" + String(repeating: "f", count: 64))?.description
            == "115792089237316195423570985008687907853269984665640564039457584007913129639935")
        #expect(Amount(hex: "0x1" + String(repeating: "0", count: 64)) == nil)
        #expect(Amount(hex: "0xzz") == nil)
        #expect(Amount(hex: "0x") == nil)
        // Leading zeros of a 32-byte log data word are fine.
        #expect(Amount(hex: "0x" + String(repeating: "0", count: 62) + "2a")?.uint64 == 42)
    }

    @Test func additionAndOrdering() {
        let a = Amount(decimal: "18446744073709551615")!, one = Amount(1)
        #expect(a.addingReportingOverflow(one)?.description == "18446744073709551616")
        #expect(a < a.addingReportingOverflow(one)!)
        let max = Amount(hex: "0x" + String(repeating: "f", count: 64))!
        #expect(max.addingReportingOverflow(one) == nil)
    }
}

import Testing
import WatchCore
import WatchTesting

@Suite struct JSONParserTests {
    @Test func parsesDocuments() throws {
        let v = try JSONValue.parse(#" {"a":[1,-2,3.5,1e3,true,false,null,"x\u00e9\ud83d\ude00\n"],"b":{}} "#)
        #expect(v["a"]?[0] == .int(1))
        #expect(v["a"]?[1] == .int(-2))
        #expect(v["a"]?[2] == .number("3.5"))
        #expect(v["a"]?[3] == .number("1e3"))
        #expect(v["a"]?[4] == .bool(true))
        #expect(v["a"]?[6] == .null)
        #expect(v["a"]?[7] == .string("xé😀\n"))
        #expect(v["b"] == .object([:]))
        #expect(try JSONValue.parse("0") == .int(0))
        #expect(try JSONValue.parse("\"é\"") == .string("é"))
    }

    @Test func serializesWithSortedKeysAndOnlyTheEscapesJSONNeeds() {
        let value: JSONValue = [
            "z": "plain", "a": "q\"uote b\\ack", "m": ["tab\tnl\ncr\r", "bell\u{07}", "é😀/"], "k": .null, "b": .int(-3),
            "e": "",
        ]
        #expect(value.serialized() == #"{"a":"q\"uote b\\ack","b":-3,"e":"","k":null,"m":["tab\tnl\ncr\r","bell\u0007","é😀/"],"z":"plain"}"#)
    }

    @Test func keepsBigIntegersExact() throws {
        let max256 = "115792089237316195423570985008687907853269984665640564039457584007913129639935"
        let v = try JSONValue.parse("{\"value\":\(max256),\"small\":9223372036854775807,\"over\":9223372036854775808}")
        #expect(v["value"] == .number(max256))
        #expect(v["value"]?.numberText.flatMap { Amount(decimal: $0) }?.description == max256)
        #expect(v["small"] == .int(Int64.max))
        #expect(v["over"] == .number("9223372036854775808"))
        #expect(try JSONValue.parse(v.serialized()) == v)
    }

    @Test(arguments: [
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "[1 2]", "{\"a\" 1}", "{a:1}", "01", "-", "1.", ".5", "1e", "+1", "NaN",
        "Infinity", "tru", "nul", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"a\u{01}b\"", "[1] x", "{} {}",
        "// c\n1", "'a'", "[\"\\ud83d\\u0041\"]",
    ])
    func rejectsMalformed(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
    }

    @Test func rejectsInvalidUTF8AndDeepNesting() {
        for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC0, 0xAF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xE2, 0x82, 0x22]] {
            #expect(throws: JSONParseError.self) { try JSONValue.parse(bytes) }
        }
        let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(deep) }
        let ok = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect((try? JSONValue.parse(ok)) != nil)
    }

    @Test func errorsSayWhere() {
        do {
            _ = try JSONValue.parse("{\"a\": [1, 2,, 3]}")
            Issue.record("accepted")
        } catch {
            #expect(error.offset == 12)
            #expect(error.description.contains("byte 12"))
        }
    }

    /// Seeded mutations of real replies: the parser never crashes, and whatever it accepts
    /// re-serializes to a document that parses back to the same value.
    @Test func seededMutationFuzz() {
        let seeds = [
            #"{"jsonrpc":"2.0","id":7,"result":[{"address":"0x420ca0f9b9b604ce0fd9c18ef134c705e5fa3430","topics":["0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef",null],"data":"0x01","blockNumber":"0x10","logIndex":"0x0","removed":false}]}"#,
            #"{"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"query returned more than 10000 results. Try with this block range [0x1, 0x2].","data":{"from":"0x1","to":"0x2","limit":10000}}}"#,
            #"[1.5e-7,-0,"\u00e9\ud83d\ude00",{"a":{"b":[[],{}]}},115792089237316195423570985008687907853269984665640564039457584007913129639935]"#,
        ]
        var rng = SeededGenerator(seed: 0x5EED)
        let alphabet = Array(#"{}[],:"\/0123456789-+.eEtrufalsn x"#.utf8) + [0x00, 0x1F, 0x7F, 0x80, 0xC3, 0xA9, 0xED, 0xF0, 0xFF]
        var accepted = 0, rejected = 0
        for _ in 0..<4000 {
            var bytes = Array(seeds[Int(rng.next() % UInt64(seeds.count))].utf8)
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let i = Int(rng.next() % UInt64(bytes.count + 1))
                switch rng.next() % 4 {
                case 0: if i < bytes.count { bytes.remove(at: i) }
                case 1: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: i)
                case 2: if i < bytes.count { bytes[i] = alphabet[Int(rng.next() % UInt64(alphabet.count))] }
                default: bytes = Array(bytes.prefix(i))
                }
            }
            do {
                let value = try JSONValue.parse(bytes)
                accepted += 1
                #expect(try JSONValue.parse(value.serialized()) == value)
            } catch {
                rejected += 1
                #expect(error.offset >= 0 && error.offset <= bytes.count)
            }
        }
        #expect(accepted > 50 && rejected > 1000)
    }
}

// unrip-kafka-mock: librdkafka's Kafka-protocol mock cluster as a process, for tests and the demo.
//
//   unrip-kafka-mock [--brokers N] [--partitions N] [--topic NAME]... [--control]
//
// Prints the bootstrap address (host:port,…) on its first line, then runs until SIGTERM/SIGINT
// (exit 0). With --control it reads commands from stdin, one per line, answering "ok …" or
// "error …": `topic NAME [PARTITIONS]`, `down` / `up` (every broker), `down N` / `up N`;
// end of input then stops it, so a test that dies takes its mock with it.
import CKafka
import Foundation

var brokers: Int32 = 1
var partitions: Int32 = 3
var topics: [String] = []
var control = false
var args = CommandLine.arguments.dropFirst()
while let arg = args.popFirst() {
    switch arg {
    case "--brokers": brokers = Int32(args.popFirst() ?? "") ?? 1
    case "--partitions": partitions = Int32(args.popFirst() ?? "") ?? 3
    case "--topic": topics.append(args.popFirst() ?? "")
    case "--control": control = true
    default:
        FileHandle.standardError.write(Data("unrip-kafka-mock: unknown argument \(arg)\n".utf8))
        exit(2)
    }
}

signal(SIGTERM) { _ in _exit(0) }
signal(SIGINT) { _ in _exit(0) }
signal(SIGPIPE, SIG_IGN)

var errbuf = [CChar](repeating: 0, count: 512)
let conf = rd_kafka_conf_new()
_ = rd_kafka_conf_set(conf, "log_level", "3", &errbuf, errbuf.count)
guard let rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errbuf, errbuf.count) else {
    FileHandle.standardError.write(Data("unrip-kafka-mock: rd_kafka_new: \(String(decoding: errbuf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))\n".utf8))
    exit(1)
}
guard let cluster = rd_kafka_mock_cluster_new(rk, brokers) else {
    FileHandle.standardError.write(Data("unrip-kafka-mock: could not start the mock cluster\n".utf8))
    exit(1)
}
for topic in topics where !topic.isEmpty {
    _ = rd_kafka_mock_topic_create(cluster, topic, partitions, 1)
}

func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

say(String(cString: rd_kafka_mock_cluster_bootstraps(cluster)))

func setBrokers(_ cluster: OpaquePointer, count: Int32, _ words: [Substring], up: Bool) -> String {
    let ids: [Int32] = words.count > 1 ? [Int32(words[1]) ?? -1] : Array(1...count)
    for id in ids {
        let err = up ? rd_kafka_mock_broker_set_up(cluster, id) : rd_kafka_mock_broker_set_down(cluster, id)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { return "error \(String(cString: rd_kafka_err2str(err)))" }
    }
    return "ok \(up ? "up" : "down")"
}

if control {
    while let line = readLine() {
        let words = line.split(separator: " ")
        var reply: String
        switch words.first {
        case "topic" where words.count >= 2:
            let n = words.count > 2 ? Int32(words[2]) ?? partitions : partitions
            let err = rd_kafka_mock_topic_create(cluster, String(words[1]), n, 1)
            reply = err == RD_KAFKA_RESP_ERR_NO_ERROR ? "ok topic" : "error \(String(cString: rd_kafka_err2str(err)))"
        case "down": reply = setBrokers(cluster, count: brokers, words, up: false)
        case "up": reply = setBrokers(cluster, count: brokers, words, up: true)
        default: reply = "error unknown command: \(line)"
        }
        say(reply)
    }
    exit(0)
}
while true { sleep(3600) }

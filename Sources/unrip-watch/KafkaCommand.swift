import ArgumentParser
import Foundation
import KafkaBus
import WatchCore

struct KafkaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka", abstract: "Kafka operator tools.", subcommands: [Produce.self])

    /// Sends each JSON line of standard input as one message (for drills, the demo, replaying inputs).
    struct Produce: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "produce",
            abstract: "Produce each line of standard input (a JSON document) to a topic; waits for every acknowledgement.")

        @Option(help: "Broker list, comma-separated (default: UNRIP_KAFKA_BROKERS).")
        var brokers: String = ProcessInfo.processInfo.environment["UNRIP_KAFKA_BROKERS"] ?? ""

        @Option(help: "Topic.")
        var topic: String

        @Option(help: "Message key.")
        var key: String = ""

        func run() async throws {
            let list = brokers.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !list.isEmpty else {
                FileHandle.standardError.write(Data("kafka produce: no brokers (--brokers or UNRIP_KAFKA_BROKERS)\n".utf8))
                throw ExitCode(2)
            }
            let producer: KafkaProducer
            do {
                producer = try KafkaProducer(config: KafkaClientConfig(brokers: list, clientID: "unrip-watch-cli"))
            } catch {
                FileHandle.standardError.write(Data("kafka produce: \(error)\n".utf8))
                throw ExitCode(1)
            }
            var failures = 0
            while let line = readLine(strippingNewline: true) {
                guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
                guard (try? JSONValue.parse(line)) != nil else {
                    FileHandle.standardError.write(Data("kafka produce: skipped a line that is not JSON\n".utf8))
                    failures += 1
                    continue
                }
                for result in await producer.send([KafkaOutgoingMessage(topic: topic, key: key, value: Array(line.utf8))]) {
                    if case .failure(let error) = result {
                        FileHandle.standardError.write(Data("kafka produce: \(error)\n".utf8))
                        failures += 1
                    }
                }
            }
            if failures > 0 { throw ExitCode(1) }
        }
    }
}

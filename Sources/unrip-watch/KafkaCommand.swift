import ArgumentParser
import Foundation
import KafkaBus
import WatchCore

struct KafkaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka", abstract: "Kafka operator tools.", subcommands: [Produce.self, CreateTopics.self])

    /// Sends each JSON line of standard input as one message (for drills, the demo, replaying inputs).
    struct Produce: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "produce",
            abstract: "Produce each line of standard input (a JSON document) to a topic; waits for every acknowledgement.")

        @OptionGroup var brokers: BrokerOption

        @Option(help: "Topic.")
        var topic: String

        @Option(help: "Message key.")
        var key: String = ""

        func run() async throws {
            let list = try brokers.list(command: "kafka produce")
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

    /// Creates topics through the Kafka admin API (the demo's broker, or a cluster being set up).
    struct CreateTopics: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-topics",
            abstract: "Create topics (admin API CreateTopics); one that exists already is left as it is.")

        @OptionGroup var brokers: BrokerOption

        @Option(help: "Partitions per topic (1-1000).")
        var partitions: Int = 1

        @Option(help: "Replication factor (1 for a single local broker).")
        var replicationFactor: Int = 1

        @Argument(help: "Topic names.")
        var topics: [String]

        func validate() throws {
            guard (1...1000).contains(partitions) else { throw ValidationError("--partitions \(partitions): expected 1 to 1000") }
            guard replicationFactor >= 1 else { throw ValidationError("--replication-factor \(replicationFactor): expected at least 1") }
            guard !topics.isEmpty else { throw ValidationError("name at least one topic") }
        }

        func run() async throws {
            let list = try brokers.list(command: "kafka create-topics")
            let config = KafkaClientConfig(brokers: list, clientID: "unrip-watch-cli")
            let (topics, partitions, replication) = (topics, partitions, replicationFactor)
            let outcomes: [(topic: String, outcome: KafkaAdmin.TopicOutcome)]
            do {
                outcomes = try await KafkaAdmin.createTopics(topics, partitions: partitions, replicationFactor: replication, config: config)
            } catch {
                FileHandle.standardError.write(Data("kafka create-topics: \(error)\n".utf8))
                throw ExitCode(1)
            }
            var failed = false
            for (topic, outcome) in outcomes {
                switch outcome {
                case .created: print("\(topic): created (\(partitions) partitions)")
                case .alreadyExists: print("\(topic): exists already")
                case .failed(let why):
                    failed = true
                    FileHandle.standardError.write(Data("kafka create-topics: \(topic): \(why)\n".utf8))
                }
            }
            if failed { throw ExitCode(1) }
        }
    }
}

/// `--brokers`, shared by the Kafka tools.
struct BrokerOption: ParsableArguments {
    @Option(help: "Broker list, comma-separated (default: UNRIP_KAFKA_BROKERS).")
    var brokers: String = ProcessInfo.processInfo.environment["UNRIP_KAFKA_BROKERS"] ?? ""

    /// The brokers named; none is a usage error (exit 2) naming the option and the variable.
    func list(command: String) throws -> [String] {
        let list = brokers.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !list.isEmpty else {
            FileHandle.standardError.write(Data("\(command): no brokers (--brokers or UNRIP_KAFKA_BROKERS)\n".utf8))
            throw ExitCode(2)
        }
        return list
    }
}

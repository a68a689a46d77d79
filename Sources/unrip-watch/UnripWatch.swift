import ArgumentParser
import Foundation
import Logging
import UnripAdapters
import WatchHost

@main
struct UnripWatch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unrip-watch",
        abstract: "Watches funding addresses on each chain before the bridge credits them, and raises durable alerts.",
        version: UnripHost.version,
        subcommands: [RunCommand.self, MigrateCommand.self, CheckConfigCommand.self, StatusCommand.self, KafkaCommand.self, BitcoinCommand.self, GnosisCommand.self, EVMCommand.self],
        defaultSubcommand: nil)
}

/// Loads the config or exits 2 with one line per problem.
func loadConfig(_ path: String) -> HostConfig {
    do {
        return try HostConfig.load(path: path, registry: registeredAdapters)
    } catch {
        FileHandle.standardError.write(Data((error.description + "\n").utf8))
        FileHandle.standardError.write(Data("\(error.problems.count) problem(s) in \(path)\n".utf8))
        Foundation.exit(2)
    }
}

func bootstrapLogging(level: String) -> Logger {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = Logger.Level(rawValue: level) ?? .info
        return handler
    }
    return Logger(label: "unrip-watch")
}

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Migrate, start the enabled plugins and serve the control surface until SIGTERM/SIGINT.")

    @Option(name: .shortAndLong, help: "Config file (TOML).")
    var config: String = "config/devnet.toml"

    func run() async throws {
        let config = loadConfig(self.config)
        let logger = bootstrapLogging(level: config.logLevel)
        let host = UnripHost(config: config, logger: logger)
        host.bootstrapMetrics()
        do {
            try await host.run()
        } catch {
            logger.critical("unrip-watch failed", metadata: ["error": "\(config.scrubbed("\(error)"))"])
            throw ExitCode(1)
        }
    }
}

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Apply migrations/*.sql in order under an advisory lock (idempotent).")

    @Option(name: .shortAndLong, help: "Config file (TOML).")
    var config: String = "config/devnet.toml"

    func run() async throws {
        let config = loadConfig(self.config)
        let logger = bootstrapLogging(level: config.logLevel)
        do {
            let applied = try await HostCommands.migrate(config: config, logger: logger)
            print(applied.isEmpty ? "database is up to date" : "applied migrations: \(applied.map(String.init).joined(separator: ", "))")
        } catch {
            FileHandle.standardError.write(Data("migrate failed: \(config.scrubbed("\(error)"))\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct CheckConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check-config", abstract: "Validate a config file, list the enabled plugins and print the effective config (secrets redacted).")

    @Argument(help: "Config file (TOML).")
    var file: String

    func run() async throws {
        let report = HostCommands.checkConfig(path: file, environment: ProcessInfo.processInfo.environment, registry: registeredAdapters)
        if report.ok {
            print(report.output)
        } else {
            FileHandle.standardError.write(Data((report.output + "\n").utf8))
            throw ExitCode(2)
        }
    }
}

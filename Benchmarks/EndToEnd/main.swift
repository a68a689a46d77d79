import BitcoinTesting
import BitcoinPlugin
import Foundation
import JSONRPCClient
import KafkaBus
import Logging
import PostgresStore
import Synchronization
import WatchCore
import WatchTesting

// End-to-end benchmark (DESIGN §10, issue 5): rawtx over ZMQ → durable row in PostgreSQL →
// Kafka acknowledgement, offered at rising rates to a host watching many handles.
//
// Real processes: a private PostgreSQL (scripts/lib/pg-cluster), a Kafka broker (noida-db when
// UNRIP_NOIDA_BIN names it, the default of scripts/bench-e2e; `--broker mock`: librdkafka's mock
// cluster, unrip-kafka-mock) and the host binary (`unrip-watch run`); the bitcoind double runs in this
// process and publishes every payment's rawtx/sequence over ZMQ. A Kafka consumer here stamps
// each observation event's arrival; latency = arrival − the moment the payment was handed to
// ZMQ. The relay only publishes committed outbox rows, so an arrival implies a durable row.
//
// Usage: e2e-bench [--handles N] [--duration S] [--rates 500,1000,...] [--broker noida|mock] [--failover ROUNDS]
//        [--lease-s S] [--idle-fetch-pause-ms MS] [--consumer-idle-pause-ms MS] [--tick-ms MS]
//        [--kafka-property K=V] [--pool-size N] [--work DIR]
// Prints a table and one JSON line (prefixed "JSON "). Never a pass/fail: it reports.

struct Options: Sendable {
    var handles = 1_000
    var duration = 5.0
    var rates = [1_000, 2_000, 5_000, 10_000, 11_000, 12_500, 15_000]
    var work: String?
    var broker = ProcessInfo.processInfo.environment["UNRIP_NOIDA_BIN"].map { $0.isEmpty ? "mock" : "noida" } ?? "mock"
    /// Rounds of the failover measurement (0: none), and the lease they run with.
    var failoverRounds = 5
    var leaseSeconds = 15
    /// The idle fetch pause of the host's input consumer (`[kafka] input_idle_fetch_pause_ms`)
    /// and of this benchmark's consumer (0: librdkafka fetches continuously, which a broker that
    /// answers empty fetches at once, as noida-db, turns into a spin; see KafkaConsumer).
    var idleFetchPauseMs = 100
    /// This consumer's: short, for it stamps arrival times (it adds at most this much to an
    /// arrival that comes while it is paused; the mark−arrival column shows it).
    var consumerIdlePauseMs = 5
    /// The sender wakes at most once per tick and sends every payment then due, as bitcoind
    /// publishes the transactions it accepted from a peer's message in one go. At 1,000/s and
    /// below a tick holds one payment; at 10,000/s, ten. 0: a wake per payment.
    var tickMs = 1.0
    /// `[kafka.properties]` of the host (`--kafka-property key=value`, repeatable).
    var kafkaProperties: [(String, String)] = []
    /// The host's `[database] pool_size` (nil: its default).
    var poolSize: Int?
}
let options: Options = {
    var o = Options()
    var args = CommandLine.arguments.dropFirst()
    while let a = args.popFirst() {
        switch a {
        case "--handles": o.handles = Int(args.popFirst() ?? "") ?? o.handles
        case "--duration": o.duration = Double(args.popFirst() ?? "") ?? o.duration
        case "--rates": o.rates = (args.popFirst() ?? "").split(separator: ",").compactMap { Int($0) }
        case "--work": o.work = args.popFirst()
        case "--broker": o.broker = args.popFirst() ?? o.broker
        case "--failover": o.failoverRounds = Int(args.popFirst() ?? "") ?? o.failoverRounds
        case "--lease-s": o.leaseSeconds = Int(args.popFirst() ?? "") ?? o.leaseSeconds
        case "--idle-fetch-pause-ms": o.idleFetchPauseMs = Int(args.popFirst() ?? "") ?? o.idleFetchPauseMs
        case "--consumer-idle-pause-ms": o.consumerIdlePauseMs = Int(args.popFirst() ?? "") ?? o.consumerIdlePauseMs
        case "--kafka-property":
            let pair = (args.popFirst() ?? "").split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else {  // a property dropped in silence would change what is measured
                FileHandle.standardError.write(Data("e2e-bench: --kafka-property takes key=value\n".utf8))
                exit(2)
            }
            o.kafkaProperties.append((pair[0], pair[1]))
        case "--pool-size": o.poolSize = Int(args.popFirst() ?? "")
        case "--tick-ms": o.tickMs = Double(args.popFirst() ?? "").map { max(0, $0) } ?? o.tickMs
        default:
            FileHandle.standardError.write(Data(
                "usage: e2e-bench [--handles N] [--duration S] [--rates a,b,c] [--broker noida|mock] [--failover ROUNDS] [--lease-s S] [--idle-fetch-pause-ms MS] [--consumer-idle-pause-ms MS] [--tick-ms MS] [--kafka-property K=V] [--pool-size N] [--work DIR]\n".utf8))
            exit(2)
        }
    }
    return o
}()
let handleCount = options.handles
let duration = options.duration
let rates = options.rates
let workPath = options.work

let repo = ProcessInfo.processInfo.environment["UNRIP_REPO"].map { URL(fileURLWithPath: $0) }
    ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let binDir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
let work = URL(fileURLWithPath: workPath ?? FileManager.default.temporaryDirectory.appendingPathComponent("unrip-e2e-bench-\(UUID().uuidString.prefix(8))").path)
try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
let children = Children(work: work, repo: repo)

// Clean up on SIGINT/SIGTERM too.
signal(SIGINT, SIG_IGN)
signal(SIGTERM, SIG_IGN)
var signalSources: [DispatchSourceSignal] = []
for sig in [SIGINT, SIGTERM] {
    let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
    s.setEventHandler {
        FileHandle.standardError.write(Data("e2e-bench: interrupted; cleaning up\n".utf8))
        children.cleanup()
        exit(130)
    }
    s.resume()
    signalSources.append(s)
}

func note(_ s: String) { FileHandle.standardError.write(Data("[e2e-bench] \(s)\n".utf8)) }

// MARK: - Arrivals on Kafka

final class Arrivals: Sendable {
    let times = Mutex<[String: Double]>([:])
    let count = Atomic<Int>(0)
    let records = Atomic<Int>(0)
    let stopped = Atomic<Bool>(false)

    func record(_ value: [UInt8], at t: Double) {
        records.add(1, ordering: .relaxed)
        guard let h = txHash(in: value) else { return }
        let fresh = times.withLock { m -> Bool in
            guard m[h] == nil else { return false }
            m[h] = t
            return true
        }
        if fresh { count.add(1, ordering: .relaxed) }
    }
    var arrived: Int { count.load(ordering: .relaxed) }
    func time(_ h: String) -> Double? { times.withLock { $0[h] } }
}

// MARK: - CPU accounting (/proc), to say where the time goes

func processCPUSeconds(_ pid: Int32) -> Double {
    guard let s = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = s.lastIndex(of: ")")
    else { return 0 }
    let f = s[s.index(after: close)...].split(separator: " ")
    // fields after ")": state(0) ... utime(11) stime(12)
    guard f.count > 12, let u = Double(f[11]), let st = Double(f[12]) else { return 0 }
    return (u + st) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// CPU seconds of every process whose command name is `postgres`.
func postgresCPUSeconds() -> Double {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return 0 }
    var total = 0.0
    for e in entries where e.allSatisfy(\.isNumber) {
        if let comm = try? String(contentsOfFile: "/proc/\(e)/comm", encoding: .utf8), comm.hasPrefix("postgres") {
            total += processCPUSeconds(Int32(e)!)
        }
    }
    return total
}

/// (busy, total) jiffies of the whole machine.
func machineJiffies() -> (Double, Double) {
    guard let s = try? String(contentsOfFile: "/proc/stat", encoding: .utf8), let line = s.split(separator: "\n").first else { return (0, 0) }
    let v = line.split(separator: " ").dropFirst().compactMap { Double($0) }
    guard v.count >= 5 else { return (0, 0) }
    let total = v.reduce(0, +)
    let idle = v[3] + v[4]
    return (total - idle, total)
}

struct CPUSnapshot {
    var host: Double, pg: Double, bench: Double, mock: Double, machine: (Double, Double), wall: Double
    static func take(host: Int32, mock: Int32) -> CPUSnapshot {
        CPUSnapshot(
            host: processCPUSeconds(host), pg: postgresCPUSeconds(), bench: processCPUSeconds(getpid()),
            mock: processCPUSeconds(mock), machine: machineJiffies(), wall: wallNow())
    }
}

// MARK: - Host metrics

/// (sum seconds, count) of `unrip_commit_seconds` for the bitcoin adapter.
func commitMetric(_ client: JSONRPCClient) async -> (Double, Double) {
    guard let bytes = try? await client.get("/metrics") else { return (0, 0) }
    var sum = 0.0, count = 0.0
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("unrip_commit_seconds") && line.contains("bitcoin") {
        guard let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
        if line.hasPrefix("unrip_commit_seconds_sum") { sum += value }
        if line.hasPrefix("unrip_commit_seconds_count") { count += value }
    }
    return (sum, count)
}

// MARK: - The run

struct RateRow {
    var offered: Int
    var sent = 0
    var sendSeconds = 0.0
    var cut = false
    var arrived = 0
    var achieved = 0.0
    var p50 = Double.nan, p99 = Double.nan, max = Double.nan
    var keptUp = false
    var ingestP50 = Double.nan, ingestP99 = Double.nan
    var storeRelayP50 = Double.nan, storeRelayP99 = Double.nan
    /// first_seen_at → arrival at the consumer here (one clock: never negative).
    var toConsumerP50 = Double.nan, toConsumerP99 = Double.nan
    /// published_at − arrival: the relay marks a row in a round trip after the ack, so a
    /// consumer often has the event first (why "published_at → arrival" went negative).
    var markAfterArrivalP50 = Double.nan
    var commitMs = Double.nan, commits = 0.0
    var hostCPU = 0.0, pgCPU = 0.0, benchCPU = 0.0, mockCPU = 0.0, machineCPU = 0.0
    var drainSeconds = 0.0
    var perSecond: [Int] = []
    /// When the slowest 1 % were sent: bursts (first, last send in s from the first send, how
    /// many, worst latency) — a periodic stall shows as evenly spaced bursts.
    var slowBursts: [(from: Double, to: Double, count: Int, worst: Double)] = []
}

/// Groups the sends (send time, latency) slower than `threshold` into bursts of sends less
/// than 0.1 s apart; times from `first`.
func slowBursts(_ sends: [(sent: Double, latency: Double)], first: Double, threshold: Double) -> [(from: Double, to: Double, count: Int, worst: Double)] {
    var bursts: [(from: Double, to: Double, count: Int, worst: Double)] = []
    let slow = sends.filter { $0.latency >= threshold }.map { ($0.sent - first, $0.latency) }
    for (at, l) in slow.sorted(by: { $0.0 < $1.0 }) {
        if let last = bursts.last, at - last.to < 0.1 {
            bursts[bursts.count - 1] = (last.from, at, last.count + 1, max(last.worst, l))
        } else {
            bursts.append((at, at, 1, l))
        }
    }
    return bursts
}

func ms(_ s: Double) -> String { s.isNaN ? "-" : String(format: "%.1f", s * 1000) }
func pct(_ x: Double) -> String { String(format: "%.0f%%", x * 100) }
func jsonNumber(_ x: Double, _ digits: Int = 2) -> String { x.isNaN || x.isInfinite ? "null" : String(format: "%.\(digits)f", x) }

func run() async throws {
    let hostBinary = binDir.appendingPathComponent("unrip-watch").path
    let mockBinary = binDir.appendingPathComponent("unrip-kafka-mock").path
    for b in [hostBinary, mockBinary] where !FileManager.default.isExecutableFile(atPath: b) {
        throw BenchError("\(b) is missing: build it first (scripts/bench-e2e does)")
    }
    let topic = "unrip.funding.observations"

    note("work dir \(work.path)")
    let pgURL = try children.startPostgres()
    note("PostgreSQL at \(pgURL)")
    let topics = [topic, "e2e.bench.probe", "unrip.alerts", "unrip.reference_prices", "unrip.inventory_snapshots", "unrip.execution_results"]
    let bootstrap: String
    if options.broker == "noida", let noida = ProcessInfo.processInfo.environment["UNRIP_NOIDA_BIN"] {
        bootstrap = try children.startNoida(binary: noida, port: try freePort())
        // One partition per topic, as with the mock (see startKafkaMock).
        let made = try await KafkaAdmin.createTopics(topics, partitions: 1, config: KafkaClientConfig(brokers: [bootstrap]))
        for (name, outcome) in made where outcome != .created && outcome != .alreadyExists { throw BenchError("topic \(name): \(outcome)") }
        note("Kafka broker noida-db at \(bootstrap)")
    } else {
        bootstrap = try children.startKafkaMock(binary: mockBinary, topics: topics)
        note("Kafka mock at \(bootstrap)")
    }
    let double = try await BitcoindDouble.start()
    double.mine(1)

    // N random P2WPKH regtest handles.
    var scripts: [[UInt8]] = []
    var handleLines: [String] = []
    for i in 0..<handleCount {
        let program = (0..<20).map { _ in UInt8.random(in: 0...255) }
        let script: [UInt8] = [0x00, 0x14] + program
        guard let address = AddressCodec.address(forScript: script, network: .regtest) else { throw BenchError("address codec failed") }
        scripts.append(script)
        handleLines.append("  { address = \"\(address)\", label = \"bench \(i)\" },")
    }
    let httpPort = try freePort()
    let config = """
        [database]
        url = "\(pgURL)"
        migrations_dir = "\(repo.appendingPathComponent("migrations").path)"
        \(options.poolSize.map { "pool_size = \($0)" } ?? "")
        [control]
        token = "bench-token"
        [kafka]
        brokers = ["\(bootstrap)"]
        input_idle_fetch_pause_ms = \(options.idleFetchPauseMs)
        [kafka.properties]
        \(options.kafkaProperties.map { "\"\($0.0)\" = \"\($0.1)\"" }.joined(separator: "\n"))
        [log]
        level = "notice"
        \(double.bitcoinSection(pollIntervalMs: 1000, extra: ["mempool_resync_s = 86400", "handles = [", handleLines.joined(separator: "\n"), "]"]))
        """
    let host = try children.startHost(binary: hostBinary, config: config, httpPort: httpPort)
    note("host pid \(host.processIdentifier), \(handleCount) handles, control on 127.0.0.1:\(httpPort)")
    let metricsClient = JSONRPCClient(.init(url: "http://127.0.0.1:\(httpPort)"))
    let mockPID: Int32 = {
        // The mock is the first remembered child after pg-cluster (which exits): read it back.
        let pids = (try? String(contentsOf: work.appendingPathComponent("pids"), encoding: .utf8)) ?? ""
        return pids.split(separator: "\n").first.flatMap { Int32($0) } ?? 0
    }()

    // The consumer: stamps every observation event as it arrives.
    let arrivals = Arrivals()
    let consumer = try KafkaConsumer(
        config: KafkaClientConfig(
            brokers: [bootstrap], clientID: "e2e-bench",
            properties: ["fetch.wait.max.ms": "5", "fetch.error.backoff.ms": "10", "session.timeout.ms": "6000"]),
        groupID: "e2e-bench-\(UUID().uuidString.prefix(8))", topics: [topic], idleFetchPauseMs: Int32(options.consumerIdlePauseMs))
    let consumerTask = Task.detached {
        while !arrivals.stopped.load(ordering: .relaxed) {
            for case .record(let r) in await consumer.poll(max: 1_000, timeoutMs: 50) {
                arrivals.record(r.value, at: wallNow())
            }
        }
    }

    // Ready: the host is up and the consumer assigned once a payment comes back.
    note("waiting for the first observation to come back through Kafka…")
    let readyDeadline = wallNow() + 120
    var warm = 0
    while arrivals.arrived == 0 {
        guard host.isRunning else { throw BenchError("host exited:\n\(hostLogTail())") }
        guard wallNow() < readyDeadline else { throw BenchError("no observation arrived within 120 s:\n\(hostLogTail())") }
        double.pay(script: scripts[warm % scripts.count], sats: 10_000)
        warm += 1
        try await Task.sleep(for: .milliseconds(500))
    }
    let warmDeadline = wallNow() + 30
    while arrivals.arrived < warm && wallNow() < warmDeadline { try await Task.sleep(for: .milliseconds(20)) }
    // Warm-up: 2 s at 200/s, not reported.
    _ = try await offer(rate: 200, seconds: 2, double: double, scripts: scripts, arrivals: arrivals, warmup: warm)
    note("warm; measuring \(rates.map(String.init).joined(separator: ", ")) payments/s for \(duration) s each, sent in ticks of \(options.tickMs) ms")

    // The Kafka floor: how long the host's producer (same defaults: idempotent, acks=all,
    // linger 5 ms) waits for the mock broker's acknowledgement of 1 and of 100 messages.
    let probe = try KafkaProducer(config: KafkaClientConfig(brokers: [bootstrap], clientID: "e2e-bench-probe"))
    var ack1: [Double] = [], ack100: [Double] = [], ack1000: [Double] = []
    for i in 0..<42 {
        let n = i >= 36 ? 1_000 : i % 2 == 0 ? 1 : 100
        // 1,000-message batches use one key (one partition); the others spread over 7 keys.
        let msgs = (0..<n).map { KafkaOutgoingMessage(topic: "e2e.bench.probe", key: n == 1_000 ? "k" : "k\($0 % 7)", value: Array(repeating: 0x41, count: 700)) }
        let t = wallNow()
        _ = await probe.send(msgs)
        let took = wallNow() - t
        if i >= 4 {
            switch n {
            case 1: ack1.append(took)
            case 100: ack100.append(took)
            default: ack1000.append(took)
            }
        }
    }
    await probe.close()
    ack1.sort()
    ack100.sort()
    ack1000.sort()
    let ackFloor = (one: percentile(ack1, 0.5), hundred: percentile(ack100, 0.5), thousand: percentile(ack1000, 0.5))
    note("Kafka ack floor (producer → broker → delivery report): 1 msg p50 \(ms(ackFloor.one)) ms, 100 msgs p50 \(ms(ackFloor.hundred)) ms, 1000 msgs p50 \(ms(ackFloor.thousand)) ms")

    var rows: [RateRow] = []
    var failedInARow = 0
    let pool = PostgresPool(url: pgURL, size: 1)
    // Where PostgreSQL's time goes, when UNRIP_PG_OPTS preloads pg_stat_statements: counted
    // from here (the warm-up excluded), printed after the ladder.
    let statementStats = (ProcessInfo.processInfo.environment["UNRIP_PG_OPTS"] ?? "").contains("pg_stat_statements")
    if statementStats {
        try await pool.withConnection { conn in
            _ = try conn.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            _ = try conn.query("SELECT pg_stat_statements_reset()")
        }
    }
    for rate in rates {
        let cpu0 = CPUSnapshot.take(host: host.processIdentifier, mock: mockPID)
        let commit0 = await commitMetric(metricsClient)
        let base = arrivals.arrived
        let t0 = wallNow()
        let offered = try await offer(rate: rate, seconds: duration, double: double, scripts: scripts, arrivals: arrivals, warmup: 0)
        let cpu1 = CPUSnapshot.take(host: host.processIdentifier, mock: mockPID)
        let commit1 = await commitMetric(metricsClient)
        var row = RateRow(offered: rate)
        row.sent = offered.sends.count
        row.sendSeconds = offered.sendSeconds
        row.cut = offered.cut
        row.drainSeconds = offered.drainSeconds
        var lastArrival = 0.0
        var timed: [(sent: Double, latency: Double)] = []
        for (h, sent) in offered.sends {
            if let a = arrivals.time(h) {
                timed.append((sent, a - sent))
                lastArrival = max(lastArrival, a)
            }
        }
        let latencies = timed.map(\.latency).sorted()
        row.arrived = latencies.count
        // Arrivals per second, second by second from the first send: a falling series means
        // the per-observation cost grows with what is already open.
        var perSecond: [Int] = []
        let firstSendAt = offered.sends.first?.1 ?? t0
        for (h, _) in offered.sends {
            guard let a = arrivals.time(h) else { continue }
            let slot = Int(a - firstSendAt)
            if slot >= perSecond.count { perSecond += Array(repeating: 0, count: slot - perSecond.count + 1) }
            perSecond[slot] += 1
        }
        row.perSecond = perSecond
        let firstSend = offered.sends.first?.1 ?? t0
        row.achieved = lastArrival > firstSend ? Double(row.arrived) / (lastArrival - firstSend) : 0
        row.p50 = percentile(latencies, 0.5)
        row.p99 = percentile(latencies, 0.99)
        row.slowBursts = slowBursts(timed, first: firstSend, threshold: row.p99)
        row.max = latencies.last ?? .nan
        let lastSend = offered.sends.last?.1 ?? t0
        row.keptUp = !row.cut && row.arrived == row.sent && lastArrival - lastSend < 1.0 && row.p99 < 1.0
            && Double(row.sent) / max(row.sendSeconds, 1e-9) >= 0.9 * Double(rate)
        // Commit time from the host's own histogram, over the offer + drain window.
        row.commits = commit1.1 - commit0.1
        row.commitMs = row.commits > 0 ? (commit1.0 - commit0.0) / row.commits * 1000 : .nan
        let wall = cpu1.wall - cpu0.wall
        row.hostCPU = (cpu1.host - cpu0.host) / wall
        row.pgCPU = (cpu1.pg - cpu0.pg) / wall
        row.benchCPU = (cpu1.bench - cpu0.bench) / wall
        row.mockCPU = (cpu1.mock - cpu0.mock) / wall
        let busy = cpu1.machine.0 - cpu0.machine.0, total = cpu1.machine.1 - cpu0.machine.1
        row.machineCPU = total > 0 ? busy / total : 0
        // Stage breakdown from the durable rows: send → adapter (first_seen_at = when the
        // pipeline took it), → outbox row published (after the Kafka ack), → consumer.
        let stages = try await pool.withConnection { conn in
            try conn.query(
                """
                SELECT o.tx_hash, extract(epoch FROM o.first_seen_at)::float8 AS seen,
                       extract(epoch FROM x.published_at)::float8 AS published
                FROM funding_observations o
                JOIN funding_observation_events e ON e.observation_id = o.id
                JOIN outbox x ON x.event_id = e.event_id
                WHERE o.first_seen_at >= to_timestamp($1)
                """, [String(t0 - 1)])
        }
        var seenMap: [String: (Double, Double?)] = [:]
        for r in stages {
            if let h = r["tx_hash"], let s = r["seen"].flatMap(Double.init) { seenMap[h] = (s, r["published"].flatMap(Double.init)) }
        }
        var ingest: [Double] = [], storeRelay: [Double] = [], toConsumer: [Double] = [], markLag: [Double] = []
        for (h, sent) in offered.sends {
            guard let (seen, published) = seenMap[h] else { continue }
            ingest.append(seen - sent)
            if let a = arrivals.time(h) { toConsumer.append(a - seen) }
            if let published {
                storeRelay.append(published - seen)
                if let a = arrivals.time(h) { markLag.append(published - a) }
            }
        }
        ingest.sort()
        storeRelay.sort()
        toConsumer.sort()
        markLag.sort()
        row.ingestP50 = percentile(ingest, 0.5)
        row.ingestP99 = percentile(ingest, 0.99)
        row.storeRelayP50 = percentile(storeRelay, 0.5)
        row.storeRelayP99 = percentile(storeRelay, 0.99)
        row.toConsumerP50 = percentile(toConsumer, 0.5)
        row.toConsumerP99 = percentile(toConsumer, 0.99)
        row.markAfterArrivalP50 = percentile(markLag, 0.5)
        rows.append(row)
        note(
            "offered \(rate)/s: sent \(row.sent) in \(String(format: "%.2f", row.sendSeconds)) s\(row.cut ? " (cut: backlog limit)" : ""), "
                + "arrived \(row.arrived), \(Int(row.achieved)) obs/s, p50 \(ms(row.p50)) ms, p99 \(ms(row.p99)) ms, "
                + "drain \(String(format: "%.1f", row.drainSeconds)) s, kept up: \(row.keptUp)")
        _ = base
        if row.arrived < row.sent {
            note("not everything arrived within the drain limit; stopping the ladder")
            break
        }
        failedInARow = row.keptUp ? 0 : failedInARow + 1
        if failedInARow >= 2 { break }
    }

    var failover: [Double] = []
    if options.failoverRounds > 0 {
        note("failover: two hosts with [ha] lease_s = \(options.leaseSeconds), \(options.failoverRounds) rounds of kill -9")
        failover = try await measureFailover(
            rounds: options.failoverRounds, leaseSeconds: options.leaseSeconds, pgURL: pgURL, bootstrap: bootstrap, hostBinary: hostBinary)
    }
    let failoverMedian = percentile(failover.sorted(), 0.5)

    if statementStats {
        let top = try await pool.withConnection { conn in
            try conn.query(
                """
                SELECT calls, round(total_exec_time)::bigint AS total_ms, round((total_exec_time / calls)::numeric, 3) AS mean_ms,
                       rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS query
                FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 15
                """)
        }
        print("PostgreSQL statements by total execution time over the ladder (pg_stat_statements):")
        for r in top {
            print("  \(r["total_ms"] ?? "?") ms total, \(r["calls"] ?? "?") calls, \(r["mean_ms"] ?? "?") ms mean, \(r["rows"] ?? "?") rows: \(r["query"] ?? "")")
        }
    }
    // Durability check: every arrival is a committed row, nothing left unpublished.
    let totals = try await pool.withConnection { conn in
        try conn.query(
            """
            SELECT (SELECT count(*) FROM funding_observations) AS rows,
                   (SELECT count(*) FROM outbox WHERE published_at IS NULL) AS unpublished,
                   (SELECT count(*) FROM outbox) AS outbox
            """
        ).first
    }
    arrivals.stopped.store(true, ordering: .relaxed)
    _ = await consumerTask.result
    await consumer.close()

    // MARK: report
    let sustained = rows.filter(\.keptUp).map(\.achieved).max() ?? 0
    let saturated = rows.map(\.achieved).max() ?? 0
    let at1000 = rows.first { $0.offered == 1_000 }
    print("")
    print("End to end: rawtx (ZMQ) → PostgreSQL row → Kafka ack → consumer; \(handleCount) handles, \(ProcessInfo.processInfo.activeProcessorCount) cores, broker: \(options.broker == "noida" ? "noida-db" : "librdkafka mock")")
    let header = [
        "offered/s", "sent/s", "sent", "arrived", "obs/s", "p50 ms", "p99 ms", "max ms", "kept up",
        "ingest p50/p99", "store+relay p50/p99", "seen→consumer p50/p99", "mark−arrival p50", "commit ms", "CPU host/pg/bench/mock", "machine",
    ]
    var table: [[String]] = [header]
    for r in rows {
        table.append([
            "\(r.offered)", String(format: "%.0f", Double(r.sent) / max(r.sendSeconds, 1e-9)), "\(r.sent)\(r.cut ? "*" : "")",
            "\(r.arrived)", String(format: "%.0f", r.achieved), ms(r.p50), ms(r.p99), ms(r.max), r.keptUp ? "yes" : "no",
            "\(ms(r.ingestP50))/\(ms(r.ingestP99))", "\(ms(r.storeRelayP50))/\(ms(r.storeRelayP99))",
            "\(ms(r.toConsumerP50))/\(ms(r.toConsumerP99))", ms(r.markAfterArrivalP50),
            r.commitMs.isNaN ? "-" : String(format: "%.2f ×%.0f", r.commitMs, r.commits),
            "\(pct(r.hostCPU))/\(pct(r.pgCPU))/\(pct(r.benchCPU))/\(pct(r.mockCPU))", pct(r.machineCPU),
        ])
    }
    let widths = header.indices.map { c in table.map { $0[c].count }.max()! }
    for (i, line) in table.enumerated() {
        print(line.enumerated().map { c, s in String(repeating: " ", count: widths[c] - s.count) + s }.joined(separator: " | "))
        if i == 0 { print(widths.map { String(repeating: "-", count: $0) }.joined(separator: "-|-")) }
    }
    print("* = offer cut short: backlog (sent − arrived) passed its limit.")
    print("ingest = send → adapter took it (first_seen_at); store+relay = → outbox row marked published after the Kafka ack;")
    print("seen→consumer = first_seen_at → arrival here (store, relay, broker, consumer; one clock); mark−arrival = published_at − arrival:")
    print("  the relay marks a row in a round trip after its ack, so the consumer often has it first (a positive figure is that lag, not an error).")
    print("commit ms = host's unrip_commit_seconds mean × commits in the window.")
    print("CPU = share of one core (host process, all postgres processes, this process incl. the bitcoind double and consumer, the Kafka broker); machine = all cores busy.")
    print("Kafka ack floor (host's producer settings → broker → delivery report): 1 message \(ms(ackFloor.one)) ms, 100 messages \(ms(ackFloor.hundred)) ms, 1,000 messages \(ms(ackFloor.thousand)) ms (p50)")
    for r in rows where r.keptUp {
        let bursts = r.slowBursts.prefix(12).map { String(format: "%.2f–%.2f s ×%d (≤ %.0f ms)", $0.from, $0.to, $0.count, $0.worst * 1000) }
        print("slowest 1 % at \(r.offered)/s offered, sent at (from the first send): \(bursts.joined(separator: ", "))")
    }
    for r in rows where !r.keptUp {
        print("arrivals per second at \(r.offered)/s offered (from the first send): \(r.perSecond.map(String.init).joined(separator: " "))")
    }
    print(String(format: "sustained: %.0f observations/s (target ≥ 10,000): %@", sustained, sustained >= 10_000 ? "met" : "NOT met"))
    print(String(format: "saturated throughput (best achieved at any offered rate): %.0f observations/s", saturated))
    if !failover.isEmpty {
        print(String(format: "failover (kill -9 of the active host → first observation committed by the standby), lease_s %d: median %.2f s of %d (%@)",
            options.leaseSeconds, failoverMedian, failover.count, failover.map { String(format: "%.2f", $0) }.joined(separator: ", ")))
    }
    if let at1000 {
        print("p99 at 1,000/s offered: \(ms(at1000.p99)) ms (target < 50 ms): \(at1000.keptUp && at1000.p99 < 0.05 ? "met" : "NOT met")")
    }
    print("durable rows \(totals?["rows"] ?? "?"), outbox rows \(totals?["outbox"] ?? "?"), unpublished \(totals?["unpublished"] ?? "?"); arrivals \(arrivals.arrived), records consumed \(arrivals.records.load(ordering: .relaxed))")

    var json = "{\"benchmark\":\"end_to_end\",\"broker\":\"\(options.broker)\",\"handles\":\(handleCount),\"cores\":\(ProcessInfo.processInfo.activeProcessorCount),\"duration_s\":\(duration),\"tick_ms\":\(options.tickMs),\"rates\":["
    json += rows.map { r in
        "{\"offered_per_s\":\(r.offered),\"sent\":\(r.sent),\"sent_per_s\":\(jsonNumber(Double(r.sent) / max(r.sendSeconds, 1e-9), 0)),\"cut\":\(r.cut),"
            + "\"arrived\":\(r.arrived),\"observations_per_s\":\(jsonNumber(r.achieved, 0)),\"p50_ms\":\(jsonNumber(r.p50 * 1000)),"
            + "\"p99_ms\":\(jsonNumber(r.p99 * 1000)),\"max_ms\":\(jsonNumber(r.max * 1000)),\"kept_up\":\(r.keptUp),"
            + "\"ingest_p50_ms\":\(jsonNumber(r.ingestP50 * 1000)),\"store_relay_p50_ms\":\(jsonNumber(r.storeRelayP50 * 1000)),"
            + "\"store_relay_p99_ms\":\(jsonNumber(r.storeRelayP99 * 1000)),"
            + "\"seen_to_consumer_p50_ms\":\(jsonNumber(r.toConsumerP50 * 1000)),\"seen_to_consumer_p99_ms\":\(jsonNumber(r.toConsumerP99 * 1000)),"
            + "\"mark_after_arrival_p50_ms\":\(jsonNumber(r.markAfterArrivalP50 * 1000)),\"commit_mean_ms\":\(jsonNumber(r.commitMs, 3)),"
            + "\"commits\":\(jsonNumber(r.commits, 0)),\"cpu_host\":\(jsonNumber(r.hostCPU)),\"cpu_postgres\":\(jsonNumber(r.pgCPU)),"
            + "\"cpu_bench\":\(jsonNumber(r.benchCPU)),\"cpu_machine\":\(jsonNumber(r.machineCPU)),"
            + "\"arrivals_per_second\":[\(r.perSecond.map(String.init).joined(separator: ","))]}"
    }.joined(separator: ",")
    json += "],\"sustained_observations_per_s\":\(jsonNumber(sustained, 0)),\"saturated_observations_per_s\":\(jsonNumber(saturated, 0)),"
    json += "\"p99_ms_at_1000\":\(jsonNumber((at1000?.p99 ?? .nan) * 1000)),"
    json += "\"failover_s\":{\"lease_s\":\(options.leaseSeconds),\"median\":\(jsonNumber(failoverMedian)),\"runs\":[\(failover.map { jsonNumber($0) }.joined(separator: ","))]},"
    json += "\"kafka_ack_floor_ms\":{\"one\":\(jsonNumber(ackFloor.one * 1000)),\"hundred\":\(jsonNumber(ackFloor.hundred * 1000)),\"thousand\":\(jsonNumber(ackFloor.thousand * 1000))},"
    json += "\"targets\":{\"sustained_observations_per_s\":10000,\"p99_ms_at_1000\":50},"
    json += "\"met\":{\"sustained\":\(sustained >= 10_000),\"p99_at_1000\":\(at1000.map { $0.keptUp && $0.p99 < 0.05 } ?? false)}}"
    print("JSON " + json)
    _ = double
}

struct Offer {
    var sends: [(String, Double)]
    var sendSeconds: Double
    var cut: Bool
    var drainSeconds: Double
}

/// Pays random watched handles at `rate`/s for `seconds` (paced on a dedicated thread; stops
/// early when the backlog passes its limit), then waits for the arrivals to drain.
func offer(rate: Int, seconds: Double, double: BitcoindDouble, scripts: [[UInt8]], arrivals: Arrivals, warmup: Int) async throws -> Offer {
    let base = arrivals.arrived - 0
    let expectedBefore = base  // everything before has arrived (the caller drains each step)
    _ = warmup
    let n = Int(Double(rate) * seconds)
    let limit = max(2_000, min(rate * 2, 20_000))
    let sent: (sends: [(String, Double)], seconds: Double, cut: Bool) = await withCheckedContinuation { c in
        let thread = Thread {
            var sends: [(String, Double)] = []
            sends.reserveCapacity(n)
            var rng = SystemRandomNumberGenerator()
            let start = wallNow()
            var i = 0
            var cut = false
            while i < n {
                let due = min(n, Int((wallNow() - start) * Double(rate)) + 1)
                while i < due {
                    let script = scripts[Int.random(in: 0..<scripts.count, using: &rng)]
                    let t = wallNow()
                    let tx = double.pay(script: script, sats: Int64.random(in: 1_000...1_000_000, using: &rng))
                    sends.append((tx.txid, t))
                    i += 1
                }
                if i - (arrivals.arrived - expectedBefore) > limit {
                    cut = true
                    break
                }
                let wait = start + Double(i) / Double(rate) - wallNow()
                if wait > 0 { usleep(UInt32(max(wait, options.tickMs / 1_000) * 1_000_000)) }
            }
            c.resume(returning: (sends, wallNow() - start, cut))
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    // Drain: until every payment arrived, or no progress for 15 s, or 180 s in all.
    let drainStart = wallNow()
    var lastProgress = drainStart
    var last = arrivals.arrived
    while arrivals.arrived - expectedBefore < sent.sends.count {
        try await Task.sleep(for: .milliseconds(5))
        let now = wallNow(), a = arrivals.arrived
        if a != last { last = a; lastProgress = now }
        if now - lastProgress > 15 || now - drainStart > 180 { break }
    }
    return Offer(sends: sent.sends, sendSeconds: sent.seconds, cut: sent.cut, drainSeconds: wallNow() - drainStart)
}

func hostLogTail() -> String {
    let log = (try? String(contentsOf: work.appendingPathComponent("host.log"), encoding: .utf8)) ?? ""
    return String(log.suffix(3000))
}

do {
    try await run()
    children.cleanup()
    try? FileManager.default.removeItem(at: work)
} catch {
    note("failed: \(error)")
    children.cleanup()
    exit(1)
}

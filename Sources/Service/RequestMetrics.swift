import Foundation

/// Request counts and latencies, rendered in the Prometheus text exposition format (0.0.4)
/// by `prometheusText`. Written here rather than through swift-metrics + a Prometheus
/// backend: three metric families do not warrant two more packages.
///
/// Thread safety: `lock` guards every field; `record` is called once per request.
final class RequestMetrics: @unchecked Sendable {
    struct RequestKey: Hashable, Comparable {
        var route: String
        var method: String
        var status: Int

        static func < (a: RequestKey, b: RequestKey) -> Bool {
            (a.route, a.method, a.status) < (b.route, b.method, b.status)
        }
    }

    /// Histogram bucket upper bounds in seconds: 0.25 ms to 10 s, about ×2–2.5 apart, so
    /// p50/p99 of both a 1 ms search and a 300 ms image upload can be read off.
    static let bucketBounds: [Double] = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    struct Histogram {
        /// Non-cumulative counts per bucket; the last entry counts observations above every bound.
        var counts = [Int](repeating: 0, count: RequestMetrics.bucketBounds.count + 1)
        var sum = 0.0
        var count = 0
    }

    private let lock = NSLock()
    private var requests: [RequestKey: Int] = [:]
    private var durations: [String: Histogram] = [:]

    func record(route: String, method: String, status: Int, seconds: Double) {
        let bucket = RequestMetrics.bucketBounds.firstIndex { seconds <= $0 } ?? RequestMetrics.bucketBounds.count
        lock.lock()
        defer { lock.unlock() }
        requests[RequestKey(route: route, method: method, status: status), default: 0] += 1
        var histogram = durations[route] ?? Histogram()
        histogram.counts[bucket] += 1
        histogram.sum += seconds
        histogram.count += 1
        durations[route] = histogram
    }

    /// The exposition text: requests by route/method/status, latency histogram by route,
    /// and `codes` (codes stored per collection, read from the store at scrape time).
    func prometheusText(codes: [(collection: String, count: Int)]) -> String {
        lock.lock()
        let requests = self.requests
        let durations = self.durations
        lock.unlock()

        var lines: [String] = []
        lines.append("# HELP cnncodes_http_requests_total HTTP requests answered, by route, method and status.")
        lines.append("# TYPE cnncodes_http_requests_total counter")
        for (key, value) in requests.sorted(by: { $0.key < $1.key }) {
            lines.append("cnncodes_http_requests_total{route=\"\(escape(key.route))\",method=\"\(escape(key.method))\",status=\"\(key.status)\"} \(value)")
        }
        lines.append("# HELP cnncodes_http_request_duration_seconds Time from request head to response head, by route.")
        lines.append("# TYPE cnncodes_http_request_duration_seconds histogram")
        for (route, histogram) in durations.sorted(by: { $0.key < $1.key }) {
            let label = "route=\"\(escape(route))\""
            var cumulative = 0
            for (i, bound) in RequestMetrics.bucketBounds.enumerated() {
                cumulative += histogram.counts[i]
                lines.append("cnncodes_http_request_duration_seconds_bucket{\(label),le=\"\(format(bound))\"} \(cumulative)")
            }
            lines.append("cnncodes_http_request_duration_seconds_bucket{\(label),le=\"+Inf\"} \(histogram.count)")
            lines.append("cnncodes_http_request_duration_seconds_sum{\(label)} \(format(histogram.sum))")
            lines.append("cnncodes_http_request_duration_seconds_count{\(label)} \(histogram.count)")
        }
        lines.append("# HELP cnncodes_codes Codes stored per collection.")
        lines.append("# TYPE cnncodes_codes gauge")
        for (collection, count) in codes {
            lines.append("cnncodes_codes{collection=\"\(escape(collection))\"} \(count)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Label values escape backslash, double quote and newline (exposition format rules).
    private func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    private func format(_ value: Double) -> String {
        String(format: "%g", value)
    }
}

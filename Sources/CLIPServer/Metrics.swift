// GET /metrics: requests by route and status, latency histograms and the inference queue, in Prometheus text format.

import Hummingbird
import Prometheus

/// The server's metrics registry.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let buckets: [Duration] = [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                                       .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
                                       .seconds(2.5), .seconds(5), .seconds(10)]

    /// `clip_<name>_<unit>`, with its help text.
    private static func metric(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "clip", metricName: name, unitName: unit, helpText: help)
    }

    /// One request: `route` is the route's pattern (`/v1/models/{id}`) or "other" (bounded cardinality).
    func record(route: String, method: String, status: Int, duration: Duration) {
        registry.makeCounter(descriptor: Self.metric("http_requests", "total", "HTTP requests by route, method and status"),
                             labels: [("route", route), ("method", method), ("status", String(status))]).increment()
        registry.makeDurationHistogram(descriptor: Self.metric("http_request_duration", "seconds", "Request latency by route"),
                                       labels: [("route", route)], buckets: buckets).record(duration)
    }

    /// The text exposition, with the queue's gauges read now.
    func render(queue: InferenceQueue, configuration: ServerConfiguration) -> [UInt8] {
        let stats = queue.statistics
        let gauges: [(String, String, String, Int)] = [
            ("queue_pending", "inputs", "Inputs waiting for the model", queue.pendingItems),
            ("queue_capacity", "inputs", "--max-queue", configuration.maxQueue),
            ("inference", "batches", "Forward passes run since start", stats.batches),
            ("inference", "inputs", "Inputs embedded since start", stats.items),
            ("queue_rejected", "inputs", "Inputs refused with 503 since start", stats.rejected),
        ]
        for (name, unit, help, value) in gauges {
            registry.makeGauge(descriptor: Self.metric(name, unit, help)).set(Double(value))
        }
        var out: [UInt8] = []
        registry.emit(into: &out)
        return out
    }
}

// GET /metrics: requests by route and status, latency histograms and the inference queue, in Prometheus text format.

import Hummingbird
import Prometheus

/// The server's metrics registry.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let buckets: [Duration] = [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                                       .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
                                       .seconds(2.5), .seconds(5), .seconds(10)]

    /// One request: `route` is the route's pattern (`/v1/models/{id}`) or "other" (bounded cardinality).
    func record(route: String, method: String, status: Int, duration: Duration) {
        registry.makeCounter(name: "clip_http_requests_total",
                             labels: [("route", route), ("method", method), ("status", String(status))],
                             help: "HTTP requests by route, method and status").increment()
        registry.makeDurationHistogram(name: "clip_http_request_duration_seconds", labels: [("route", route)],
                                       buckets: buckets, help: "Request latency by route").record(duration)
    }

    /// The text exposition, with the queue's gauges read now.
    func render(queue: InferenceQueue, configuration: ServerConfiguration) -> [UInt8] {
        let stats = queue.statistics
        registry.makeGauge(name: "clip_queue_pending_inputs", help: "Inputs waiting for the model").set(Double(queue.pendingItems))
        registry.makeGauge(name: "clip_queue_capacity_inputs", help: "--max-queue").set(Double(configuration.maxQueue))
        registry.makeGauge(name: "clip_inference_batches", help: "Forward passes run since start").set(Double(stats.batches))
        registry.makeGauge(name: "clip_inference_inputs", help: "Inputs embedded since start").set(Double(stats.items))
        registry.makeGauge(name: "clip_queue_rejected_inputs", help: "Inputs refused with 503 since start").set(Double(stats.rejected))
        var out: [UInt8] = []
        registry.emit(into: &out)
        return out
    }
}

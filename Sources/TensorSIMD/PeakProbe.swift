// The machine's multiply-add peak as each tier sees it: independent accumulator chains, no memory traffic.
// iterations -> a value the caller must keep (so the loop is not removed); 10·2·|V| flops per iteration.

/// Runs `iterations` steps of 10 independent `madd` chains over `I.V`.
@inlinable @inline(__always)
package func peakProbeBody<I: KernelISA>(_: I.Type, iterations: Int) -> Float {
    typealias V = I.V
    var acc = InlineArray<10, V>(repeating: V(repeating: 0.1))
    for j in 0..<10 { acc[j] += V(repeating: Float(j) * 0.01) }
    let m = V(repeating: 0.999999), c = V(repeating: 1e-7)
    for _ in 0..<iterations {
        for j in 0..<10 { acc[j] = I.madd(acc[j], m, c) }
    }
    var total = V()
    for j in 0..<10 { total += acc[j] }
    return total.sum()
}

// The vectorised libjpeg ISLOW inverse DCT against its plain scalar reference (both in CSTBImage), llm.c-style.

import CLIPCore
import CLIPImageIO
import CLIPTokenizer
import CSTBImage
import Tensor
import Testing
import TextTransformer
import VisionTransformer

struct IDCTTests {
    /// Deterministic pseudo-random numbers (64-bit LCG), so failures reproduce.
    struct LCG {
        var state: UInt64
        mutating func next(_ range: ClosedRange<Int>) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return range.lowerBound + Int((state >> 33) % UInt64(range.count))
        }
    }

    static func run(_ block: [Int16]) -> (fast: [UInt8], reference: [UInt8]) {
        var fast = [UInt8](repeating: 0, count: 8 * 11), reference = fast   // row stride 11: strides are honoured
        block.withUnsafeBufferPointer { b in
            clip_idct_islow_fast(&fast, 11, b.baseAddress)
            clip_idct_islow_reference(&reference, 11, b.baseAddress)
        }
        return (fast, reference)
    }

    @Test("fast IDCT equals the scalar reference on every coefficient range a JPEG can produce",
          arguments: [(1, 64), (8, 64), (128, 64), (1024, 16), (4096, 64), (4096, 3)])
    func matchesReference(maxMagnitude: Int, nonZero: Int) {
        var rng = LCG(state: UInt64(maxMagnitude * 131 + nonZero))
        for trial in 0..<2000 {
            var block = [Int16](repeating: 0, count: 64)
            for _ in 0..<nonZero { block[rng.next(0...63)] = Int16(rng.next(-maxMagnitude...maxMagnitude)) }
            let (fast, reference) = Self.run(block)
            guard fast == reference else {
                let i = zip(fast, reference).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? 0
                Issue.record("trial \(trial): first mismatch at row \(i / 11), column \(i % 11): \(fast[i]) vs \(reference[i]); block \(block)")
                return
            }
        }
    }

    @Test("closed forms: a DC-only block is flat at 128 + DC/8, zeros give mid-grey, saturation clamps")
    func closedForms() {
        for (dc, expected) in [(0, 128), (80, 138), (-80, 118), (1016, 255), (-1024, 0)] {
            var block = [Int16](repeating: 0, count: 64)
            block[0] = Int16(dc)
            let (fast, reference) = Self.run(block)
            for r in 0..<8 {
                for c in 0..<8 {
                    #expect(fast[r * 11 + c] == UInt8(expected) && reference[r * 11 + c] == UInt8(expected), "DC \(dc)")
                }
            }
        }
    }

    @Test("the largest single coefficient (±32767 at each position) gives the same wrapped result in both")
    func singleExtremes() {
        for position in 0..<64 {
            for v: Int16 in [.max, -.max] {
                var block = [Int16](repeating: 0, count: 64)
                block[position] = v
                let (fast, reference) = Self.run(block)
                #expect(fast == reference, "coefficient \(position) = \(v)")
            }
        }
    }
}

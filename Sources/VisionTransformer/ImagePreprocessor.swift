// CLIPImageProcessor with PIL semantics: shortest-edge bicubic resize (PIL's fixed-point two-pass resampler),
// center crop, rescale by 1/255, normalise, CHW. Only the cropped region is ever resampled.
// image: (H, W, 3) uint8 -> pixel_values: (3, cropH, cropW) float32.

import CLIPCore
import CLIPImageIO
import Tensor

/// The preprocessing of `CLIPImageProcessor` (the slow, PIL-based one), bit-compatible with PIL's resize.
///
/// ```swift
/// let pre = ImagePreprocessor()                  // OpenAI CLIP defaults: 224, bicubic, OpenAI mean/std
/// let pixels = pre(try ImageDecoder().decode(path: "cat.jpg"))   // 3·224·224 floats, CHW
/// ```
public struct ImagePreprocessor: Sendable, Equatable {
    /// Length in pixels the shorter side is resized to (`size.shortest_edge`).
    public var shortestEdge = 224
    /// Height in pixels of the center crop (`crop_size.height`).
    public var cropHeight = 224
    /// Width in pixels of the center crop (`crop_size.width`).
    public var cropWidth = 224
    /// Whether to resize (bicubic) so the shorter side is `shortestEdge` (`do_resize`).
    public var doResize = true
    /// Whether to cut out the centered `cropHeight × cropWidth`, black-padded if smaller (`do_center_crop`).
    public var doCenterCrop = true
    /// Whether to multiply the 0…255 byte values by `rescaleFactor` (`do_rescale`).
    public var doRescale = true
    /// Whether to map each channel to `(x - mean) / std` after rescaling (`do_normalize`).
    public var doNormalize = true
    /// Factor applied to the byte values, 1/255 by default (`rescale_factor`).
    public var rescaleFactor = 1.0 / 255.0
    /// Per-channel mean subtracted, in R, G, B order (`image_mean`; OpenAI CLIP's by default).
    public var mean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    /// Per-channel standard deviation divided by, in R, G, B order (`image_std`; never 0).
    public var std: [Float] = [0.26862954, 0.26130258, 0.27577711]

    /// OpenAI CLIP's preprocessing at `size` (224 for ViT-B/32).
    public init(size: Int = 224) {
        shortestEdge = size
        cropHeight = size
        cropWidth = size
    }

    /// Reads a `preprocessor_config.json` (keys as transformers writes them; missing keys keep CLIP defaults).
    /// - Throws: ``ConfigError`` naming the field.
    public init(contentsOf path: String) throws {
        self.init()
        let json = try loadConfigJSON(path, limit: 1 << 20)
        func size(_ key: String, _ inner: [String]) throws -> [Int]? {
            guard let v = json[key], !v.isNull else { return nil }
            if let i = v.intValue { return inner.map { _ in i } }
            var out: [Int] = []
            for k in inner {
                guard let i = v[k]?.intValue else {
                    throw ConfigError.wrongType(file: path, field: "\(key).\(k)", expected: "an integer", found: v[k]?.kindName ?? "nothing")
                }
                out.append(i)
            }
            return out
        }
        if let s = try size("size", ["shortest_edge"]) { shortestEdge = s[0] }
        if let c = try size("crop_size", ["height", "width"]) { cropHeight = c[0]; cropWidth = c[1] }
        for (key, value) in [("shortest_edge", shortestEdge), ("crop_size.height", cropHeight), ("crop_size.width", cropWidth)] {
            guard value > 0, value <= 8192 else {
                throw ConfigError.invalidValue(file: path, field: key, value: String(value), reason: "must be in 1...8192")
            }
        }
        func flag(_ key: String, _ d: Bool) throws -> Bool {
            guard let v = json[key], !v.isNull else { return d }
            guard let b = v.boolValue else { throw ConfigError.wrongType(file: path, field: key, expected: "a boolean", found: v.kindName) }
            return b
        }
        doResize = try flag("do_resize", doResize)
        doCenterCrop = try flag("do_center_crop", doCenterCrop)
        doRescale = try flag("do_rescale", doRescale)
        doNormalize = try flag("do_normalize", doNormalize)
        if let r = json["rescale_factor"], !r.isNull {
            guard let f = r.doubleValue, f.isFinite else {
                throw ConfigError.wrongType(file: path, field: "rescale_factor", expected: "a number", found: r.kindName)
            }
            rescaleFactor = f
        }
        for key in ["image_mean", "image_std"] {
            guard let v = json[key], !v.isNull else { continue }
            guard let arr = v.arrayValue, arr.count == 3, arr.allSatisfy({ $0.doubleValue?.isFinite == true }) else {
                throw ConfigError.wrongType(file: path, field: key, expected: "an array of 3 numbers", found: v.kindName)
            }
            let values = arr.map { Float($0.doubleValue ?? 0) }
            if key == "image_mean" { mean = values } else { std = values }
        }
        guard std.allSatisfy({ $0 != 0 }) else {
            throw ConfigError.invalidValue(file: path, field: "image_std", value: "\(std)", reason: "must not contain 0")
        }
        if let r = json["resample"], !r.isNull, r.intValue != 3 {
            throw ConfigError.invalidValue(file: path, field: "resample", value: r.intValue.map(String.init) ?? r.kindName,
                                           reason: "only 3 (bicubic) is supported")
        }
    }

    /// transformers' `get_resize_output_image_size(default_to_square=False)`: the short side becomes
    /// `shortestEdge`, the long side `int(shortestEdge * long / short)`.
    public func resizedSize(width: Int, height: Int) -> (width: Int, height: Int) {
        guard doResize else { return (width, height) }
        let short = min(width, height), long = max(width, height)
        let newLong = Int(Double(shortestEdge) * Double(long) / Double(short))
        return width <= height ? (shortestEdge, newLong) : (newLong, shortestEdge)
    }

    /// Preprocesses an image to `pixel_values` (3, H, W), CHW, as a flat array.
    public func callAsFunction(_ image: RGBImage) -> [Float] {
        preprocess(image, parallel: { parts, body in for i in 0..<parts { body(i) } })
    }

    /// Preprocesses with the resize's rows split into parts that `parallel` runs (a model's thread pool).
    package func preprocess(_ image: RGBImage, parallel: (Int, (Int) -> Void) -> Void) -> [Float] {
        let (rw, rh) = resizedSize(width: image.width, height: image.height)
        // Crop window in resized coordinates (transformers' center_crop: floor division; zero padding if smaller).
        let (ch, cw) = doCenterCrop ? (cropHeight, cropWidth) : (rh, rw)
        var top = (rh - ch) >= 0 ? (rh - ch) / 2 : -Int((Double(ch - rh) / 2).rounded(.up))
        var left = (rw - cw) >= 0 ? (rw - cw) / 2 : -Int((Double(cw - rw) / 2).rounded(.up))
        if !doCenterCrop { top = 0; left = 0 }
        // Resample only the rows/columns of the resized image that land in the crop.
        let rows = max(0, top)..<min(rh, top + ch)
        let cols = max(0, left)..<min(rw, left + cw)
        let resized = PILResize.resize(image, toWidth: rw, height: rh, rows: rows, cols: cols, parallel: parallel)
        // resized: (rows.count, cols.count, 3) uint8 of the window.
        var out = [Float](repeating: 0, count: 3 * ch * cw)
        let scale = doRescale ? rescaleFactor : 1.0
        // Per-channel lookup table: transformers rescales in float64, casts to float32, then normalises in float32.
        var table = [[Float]](repeating: [Float](repeating: 0, count: 256), count: 3)
        for c in 0..<3 {
            for v in 0..<256 {
                let x = Float(Double(v) * scale)
                table[c][v] = doNormalize ? (x - mean[c]) / std[c] : x
            }
        }
        let zeroValue = (0..<3).map { table[$0][0] }
        for c in 0..<3 {
            let plane = c * ch * cw
            for y in 0..<ch {
                let ry = y + top
                for x in 0..<cw {
                    let rx = x + left
                    if rows.contains(ry) && cols.contains(rx) {
                        let v = resized[((ry - rows.lowerBound) * cols.count + (rx - cols.lowerBound)) * 3 + c]
                        out[plane + y * cw + x] = table[c][Int(v)]
                    } else {
                        out[plane + y * cw + x] = zeroValue[c]
                    }
                }
            }
        }
        return out
    }
}

/// Pillow's `ImagingResample` for 8-bit images with the BICUBIC filter (a = −0.5): coefficients in double,
/// normalised, converted to 22-bit fixed point; horizontal pass then vertical pass, each rounding to uint8.
enum PILResize {
    static let precisionBits = 22

    static func bicubic(_ x: Double) -> Double {
        let a = -0.5
        let x = abs(x)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    }

    /// Fixed-point coefficients for output indices `range` of a resize from `inSize` to `outSize`, flattened:
    /// output `i` uses `count[i]` source pixels from `start[i]`, with weights `weights[i·stride ..< i·stride + count[i]]`.
    struct Coefficients {
        var start: [Int] = []
        var count: [Int] = []
        var weights: [Int32] = []
        var stride = 0
    }

    static func coefficients(inSize: Int, outSize: Int, range: Range<Int>) -> Coefficients {
        let scale = Double(inSize) / Double(outSize)
        let filterscale = max(scale, 1.0)
        let support = 2.0 * filterscale
        var c = Coefficients()
        c.stride = Int(support.rounded(.up)) * 2 + 1
        c.start.reserveCapacity(range.count)
        c.count.reserveCapacity(range.count)
        c.weights = [Int32](repeating: 0, count: range.count * c.stride)
        var k = [Double](repeating: 0, count: c.stride)
        let one = Double(1 << precisionBits)
        for (i, xx) in range.enumerated() {
            let center = (Double(xx) + 0.5) * scale
            let ss = 1.0 / filterscale
            var xmin = Int(center - support + 0.5)   // C cast: truncation toward zero
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            let n = min(max(0, xmax - xmin), c.stride)
            var ww = 0.0
            for x in 0..<n {
                let w = bicubic((Double(x + xmin) - center + 0.5) * ss)
                k[x] = w
                ww += w
            }
            if ww != 0 { for x in 0..<n { k[x] /= ww } }
            for x in 0..<n { c.weights[i * c.stride + x] = k[x] < 0 ? Int32(-0.5 + k[x] * one) : Int32(0.5 + k[x] * one) }
            c.start.append(xmin)
            c.count.append(n)
        }
        return c
    }

    @inline(__always)
    static func clip8(_ v: Int) -> UInt8 {
        if v >= (1 << (precisionBits + 8)) { return 255 }
        if v <= 0 { return 0 }
        return UInt8(v >> precisionBits)
    }

    /// Resizes `image` to `width`×`height` but computes only `rows` × `cols` of the result.
    /// Returns that window as interleaved RGB8. Large images split the horizontal pass over the cores.
    static func resize(_ image: RGBImage, toWidth width: Int, height: Int, rows: Range<Int>, cols: Range<Int>,
                       parallel: (Int, (Int) -> Void) -> Void) -> [UInt8] {
        let inW = image.width, inH = image.height
        guard !rows.isEmpty, !cols.isEmpty else { return [] }
        let needH = width != inW
        let needV = height != inH
        // Vertical coefficients decide which source rows the horizontal pass must produce.
        let vert = needV ? coefficients(inSize: inH, outSize: height, range: rows) : nil
        let firstRow = vert.map { v in v.start.min() ?? 0 } ?? rows.lowerBound
        let lastRow = vert.map { v in zip(v.start, v.count).map { $0 + $1 }.max() ?? 0 } ?? rows.upperBound
        let tmpRows = max(lastRow - firstRow, 0)
        let tmpW = cols.count
        let half = 1 << (precisionBits - 1)
        // Horizontal pass over source rows firstRow..<lastRow, producing only `cols`.
        var tmp = [UInt8](repeating: 0, count: tmpRows * tmpW * 3)
        image.pixels.withUnsafeBufferPointer { source in
            tmp.withUnsafeMutableBufferPointer { target in
                guard let src = source.baseAddress, let dst = target.baseAddress else { return }
                if !needH {
                    for y in 0..<tmpRows {
                        (dst + y * tmpW * 3).update(from: src + ((y + firstRow) * inW + cols.lowerBound) * 3, count: tmpW * 3)
                    }
                    return
                }
                let hor = coefficients(inSize: inW, outSize: width, range: cols)
                hor.weights.withUnsafeBufferPointer { kw in
                    guard let kBase = kw.baseAddress else { return }
                    // Rows in parts of ~64 (disjoint output rows), for the caller's threads.
                    let parts = tmpRows * tmpW * hor.stride >= 1 << 20 ? (tmpRows + 63) / 64 : 1
                    parallel(parts) { part in
                        for y in (tmpRows * part / parts)..<(tmpRows * (part + 1) / parts) {
                            let row = src + (y + firstRow) * inW * 3
                            var o = dst + y * tmpW * 3
                            for xi in 0..<tmpW {
                                let k = kBase + xi * hor.stride
                                var p = row + hor.start[xi] * 3
                                var s0 = half, s1 = half, s2 = half
                                for x in 0..<hor.count[xi] {
                                    let w = Int(k[x])
                                    s0 &+= Int(p[0]) &* w
                                    s1 &+= Int(p[1]) &* w
                                    s2 &+= Int(p[2]) &* w
                                    p += 3
                                }
                                o[0] = clip8(s0); o[1] = clip8(s1); o[2] = clip8(s2)
                                o += 3
                            }
                        }
                    }
                }
            }
        }
        guard let vert else { return tmp }   // rows == firstRow..<lastRow already
        // Vertical pass: each output row is a weighted sum of whole tmp rows.
        var out = [UInt8](repeating: 0, count: rows.count * tmpW * 3)
        tmp.withUnsafeBufferPointer { t in
            out.withUnsafeMutableBufferPointer { o in
                vert.weights.withUnsafeBufferPointer { kw in
                    guard let tBase = t.baseAddress, let oBase = o.baseAddress, let kBase = kw.baseAddress else { return }
                    let width3 = tmpW * 3
                    var sums = [Int](repeating: 0, count: width3)
                    sums.withUnsafeMutableBufferPointer { acc in
                        guard let a = acc.baseAddress else { return }
                        for yi in 0..<rows.count {
                            a.update(repeating: half, count: width3)
                            let k = kBase + yi * vert.stride
                            for y in 0..<vert.count[yi] {
                                let w = Int(k[y])
                                let line = tBase + (vert.start[yi] - firstRow + y) * width3
                                for x in 0..<width3 { a[x] &+= Int(line[x]) &* w }
                            }
                            let dst = oBase + yi * width3
                            for x in 0..<width3 { dst[x] = clip8(a[x]) }
                        }
                    }
                }
            }
        }
        return out
    }
}

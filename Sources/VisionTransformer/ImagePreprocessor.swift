// CLIPImageProcessor with PIL semantics: shortest-edge bicubic resize (PIL's fixed-point two-pass resampler),
// center crop, rescale by 1/255, normalise, CHW. Only the cropped region is ever resampled.
// image: (H, W, 3) uint8 -> pixel_values: (3, cropH, cropW) float32.

import CLIPCore
import Tensor

/// The preprocessing of `CLIPImageProcessor` (the slow, PIL-based one), bit-compatible with PIL's resize.
///
/// ```swift
/// let pre = ImagePreprocessor()                  // OpenAI CLIP defaults: 224, bicubic, OpenAI mean/std
/// let pixels = pre(try ImageDecoder().decode(path: "cat.jpg"))   // 3·224·224 floats, CHW
/// ```
public struct ImagePreprocessor: Sendable, Equatable {
    public var shortestEdge = 224
    public var cropHeight = 224
    public var cropWidth = 224
    public var doResize = true
    public var doCenterCrop = true
    public var doRescale = true
    public var doNormalize = true
    public var rescaleFactor = 1.0 / 255.0
    public var mean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public var std: [Float] = [0.26862954, 0.26130258, 0.27577711]

    /// OpenAI CLIP's preprocessing at `size` (224 for ViT-B/32).
    ///
    /// ```swift
    /// let pre = ImagePreprocessor(size: 224)
    /// ```
    public init(size: Int = 224) {
        shortestEdge = size
        cropHeight = size
        cropWidth = size
    }

    /// Reads a `preprocessor_config.json` (keys as transformers writes them; missing keys keep CLIP defaults).
    ///
    /// ```swift
    /// let pre = try ImagePreprocessor(contentsOf: dir + "/preprocessor_config.json")
    /// ```
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
    ///
    /// ```swift
    /// ImagePreprocessor().resizedSize(width: 640, height: 480)   // (298, 224)
    /// ```
    public func resizedSize(width: Int, height: Int) -> (width: Int, height: Int) {
        guard doResize else { return (width, height) }
        let short = min(width, height), long = max(width, height)
        let newLong = Int(Double(shortestEdge) * Double(long) / Double(short))
        return width <= height ? (shortestEdge, newLong) : (newLong, shortestEdge)
    }

    /// Preprocesses an image to `pixel_values` (3, H, W), CHW, as a flat array.
    ///
    /// ```swift
    /// let chw = ImagePreprocessor()(image)   // count == 3 * 224 * 224
    /// ```
    public func callAsFunction(_ image: RGBImage) -> [Float] {
        let (rw, rh) = resizedSize(width: image.width, height: image.height)
        // Crop window in resized coordinates (transformers' center_crop: floor division; zero padding if smaller).
        let (ch, cw) = doCenterCrop ? (cropHeight, cropWidth) : (rh, rw)
        var top = (rh - ch) >= 0 ? (rh - ch) / 2 : -Int((Double(ch - rh) / 2).rounded(.up))
        var left = (rw - cw) >= 0 ? (rw - cw) / 2 : -Int((Double(cw - rw) / 2).rounded(.up))
        if !doCenterCrop { top = 0; left = 0 }
        // Resample only the rows/columns of the resized image that land in the crop.
        let rows = max(0, top)..<min(rh, top + ch)
        let cols = max(0, left)..<min(rw, left + cw)
        let resized = PILResize.resize(image, toWidth: rw, height: rh, rows: rows, cols: cols)
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

    /// Fixed-point coefficients for output indices `range` of a resize from `inSize` to `outSize`.
    static func coefficients(inSize: Int, outSize: Int, range: Range<Int>) -> (bounds: [(Int, Int)], kk: [[Int32]]) {
        let scale = Double(inSize) / Double(outSize)
        let filterscale = max(scale, 1.0)
        let support = 2.0 * filterscale
        var bounds: [(Int, Int)] = []
        var kk: [[Int32]] = []
        bounds.reserveCapacity(range.count)
        kk.reserveCapacity(range.count)
        for xx in range {
            let center = (Double(xx) + 0.5) * scale
            let ss = 1.0 / filterscale
            var xmin = Int(center - support + 0.5)   // C cast: truncation toward zero
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            let n = max(0, xmax - xmin)
            var k = [Double](repeating: 0, count: n)
            var ww = 0.0
            for x in 0..<n {
                let w = bicubic((Double(x + xmin) - center + 0.5) * ss)
                k[x] = w
                ww += w
            }
            if ww != 0 { for x in 0..<n { k[x] /= ww } }
            let one = Double(1 << precisionBits)
            kk.append(k.map { $0 < 0 ? Int32(-0.5 + $0 * one) : Int32(0.5 + $0 * one) })
            bounds.append((xmin, n))
        }
        return (bounds, kk)
    }

    @inline(__always)
    static func clip8(_ v: Int) -> UInt8 {
        if v >= (1 << (precisionBits + 8)) { return 255 }
        if v <= 0 { return 0 }
        return UInt8(v >> precisionBits)
    }

    /// Resizes `image` to `width`×`height` but computes only `rows` × `cols` of the result.
    /// Returns that window as interleaved RGB8.
    static func resize(_ image: RGBImage, toWidth width: Int, height: Int, rows: Range<Int>, cols: Range<Int>) -> [UInt8] {
        let inW = image.width, inH = image.height
        guard !rows.isEmpty, !cols.isEmpty else { return [] }
        let needH = width != inW
        let needV = height != inH
        let src = image.pixels
        // Vertical coefficients decide which source rows the horizontal pass must produce.
        let vert = needV ? coefficients(inSize: inH, outSize: height, range: rows) : nil
        let firstRow = vert.map { v in v.bounds.map(\.0).min() ?? 0 } ?? rows.lowerBound
        let lastRow = vert.map { v in v.bounds.map { $0.0 + $0.1 }.max() ?? 0 } ?? rows.upperBound
        // Horizontal pass over source rows firstRow..<lastRow, producing only `cols`.
        let tmpW = cols.count
        var tmp: [UInt8]
        if needH {
            let hor = coefficients(inSize: inW, outSize: width, range: cols)
            let tmpRows = lastRow - firstRow
            tmp = [UInt8](repeating: 0, count: max(tmpRows, 0) * tmpW * 3)
            let half = 1 << (precisionBits - 1)
            src.withUnsafeBufferPointer { s in
                tmp.withUnsafeMutableBufferPointer { t in
                    for y in 0..<tmpRows {
                        let rowBase = (y + firstRow) * inW * 3
                        for xi in 0..<tmpW {
                            let (xmin, n) = hor.bounds[xi]
                            let k = hor.kk[xi]
                            var s0 = half, s1 = half, s2 = half
                            var p = rowBase + xmin * 3
                            for x in 0..<n {
                                let w = Int(k[x])
                                s0 += Int(s[p]) * w
                                s1 += Int(s[p + 1]) * w
                                s2 += Int(s[p + 2]) * w
                                p += 3
                            }
                            let o = (y * tmpW + xi) * 3
                            t[o] = clip8(s0); t[o + 1] = clip8(s1); t[o + 2] = clip8(s2)
                        }
                    }
                }
            }
        } else {
            // No horizontal resampling: copy the needed columns of the needed rows.
            let tmpRows = lastRow - firstRow
            tmp = [UInt8](repeating: 0, count: tmpRows * tmpW * 3)
            for y in 0..<tmpRows {
                let s = ((y + firstRow) * inW + cols.lowerBound) * 3
                let d = y * tmpW * 3
                tmp.replaceSubrange(d..<(d + tmpW * 3), with: src[s..<(s + tmpW * 3)])
            }
        }
        guard let vert else { return tmp }   // rows == firstRow..<lastRow already
        var out = [UInt8](repeating: 0, count: rows.count * tmpW * 3)
        let half = 1 << (precisionBits - 1)
        tmp.withUnsafeBufferPointer { t in
            out.withUnsafeMutableBufferPointer { o in
                for yi in 0..<rows.count {
                    let (ymin, n) = vert.bounds[yi]
                    let k = vert.kk[yi]
                    for x in 0..<tmpW {
                        var s0 = half, s1 = half, s2 = half
                        for y in 0..<n {
                            let w = Int(k[y])
                            let p = ((ymin - firstRow + y) * tmpW + x) * 3
                            s0 += Int(t[p]) * w
                            s1 += Int(t[p + 1]) * w
                            s2 += Int(t[p + 2]) * w
                        }
                        let d = (yi * tmpW + x) * 3
                        o[d] = clip8(s0); o[d + 1] = clip8(s1); o[d + 2] = clip8(s2)
                    }
                }
            }
        }
        return out
    }
}

// A validating, memory-mapped reader for the safetensors format (8-byte header length, JSON header, data area).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Element types defined by the safetensors format.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case bool = "BOOL", u8 = "U8", i8 = "I8", f8e5m2 = "F8_E5M2", f8e4m3 = "F8_E4M3"
    case i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16"
    case i32 = "I32", u32 = "U32", f32 = "F32"
    case f64 = "F64", i64 = "I64", u64 = "U64"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3: return 1
        case .i16, .u16, .f16, .bf16: return 2
        case .i32, .u32, .f32: return 4
        case .f64, .i64, .u64: return 8
        }
    }
}

/// One tensor's entry in a safetensors header.
public struct SafeTensorInfo: Sendable, Equatable {
    /// The tensor's key, e.g. `vision_model.encoder.layers.3.self_attn.q_proj.weight`.
    public let name: String
    /// Element type, from the header's `dtype`.
    public let dtype: SafeTensorsDType
    /// Dimensions, outermost first, from the header's `shape`.
    public let shape: [Int]
    /// Byte range inside the data area (after the header).
    public let dataOffsets: Range<Int>
    /// Number of elements (product of `shape`).
    public var count: Int { shape.reduce(1, *) }
}

/// Everything that can be wrong with a safetensors file; every case names the file and the key or field.
public enum SafeTensorsError: Error, Equatable, CustomStringConvertible {
    case io(path: String, reason: String)
    case fileTooSmall(path: String, size: Int)
    case headerTooLarge(path: String, length: UInt64, limit: Int)
    case headerBeyondFile(path: String, length: UInt64, fileSize: Int)
    case headerNotJSON(path: String, reason: String)
    case headerNotObject(path: String, found: String)
    case invalidEntry(path: String, key: String, reason: String)
    case unknownDType(path: String, key: String, dtype: String)
    case offsetsOutOfBounds(path: String, key: String, begin: Int, end: Int, dataSize: Int)
    case overlapping(path: String, key: String, other: String)
    case gap(path: String, key: String, expectedBegin: Int, begin: Int)
    case trailingData(path: String, covered: Int, dataSize: Int)
    case byteLengthMismatch(path: String, key: String, shape: [Int], dtype: String, expected: Int, actual: Int)
    case duplicateKey(path: String, key: String)
    case invalidMetadata(path: String, reason: String)
    case missingTensor(path: String, key: String)
    case unsupportedDType(path: String, key: String, dtype: String, wanted: String)

    /// The message: the file's path, then the key or field at fault and what is wrong with it.
    public var description: String {
        switch self {
        case let .io(p, r): return "\(p): \(r)"
        case let .fileTooSmall(p, s): return "\(p): file is \(s) bytes, shorter than the 8-byte safetensors header length"
        case let .headerTooLarge(p, l, lim): return "\(p): header length \(l) exceeds the \(lim)-byte limit"
        case let .headerBeyondFile(p, l, s): return "\(p): header length \(l) runs past the end of the \(s)-byte file"
        case let .headerNotJSON(p, r): return "\(p): header is not valid JSON: \(r)"
        case let .headerNotObject(p, f): return "\(p): header must be a JSON object, found \(f)"
        case let .invalidEntry(p, k, r): return "\(p): tensor \"\(k)\": \(r)"
        case let .unknownDType(p, k, d): return "\(p): tensor \"\(k)\": unknown dtype \"\(d)\""
        case let .offsetsOutOfBounds(p, k, b, e, s):
            return "\(p): tensor \"\(k)\": data_offsets [\(b), \(e)] lie outside the \(s)-byte data area"
        case let .overlapping(p, k, o): return "\(p): tensor \"\(k)\": byte range overlaps tensor \"\(o)\""
        case let .gap(p, k, eb, b):
            return "\(p): tensor \"\(k)\": data starts at byte \(b) but the previous tensor ends at \(eb) (ranges must be contiguous and in order)"
        case let .trailingData(p, c, s): return "\(p): tensors cover \(c) bytes but the data area has \(s)"
        case let .byteLengthMismatch(p, k, sh, d, e, a):
            return "\(p): tensor \"\(k)\": shape \(sh) of \(d) needs \(e) bytes but data_offsets span \(a)"
        case let .duplicateKey(p, k): return "\(p): duplicate tensor key \"\(k)\""
        case let .invalidMetadata(p, r): return "\(p): __metadata__ \(r)"
        case let .missingTensor(p, k): return "\(p): no tensor \"\(k)\""
        case let .unsupportedDType(p, k, d, w): return "\(p): tensor \"\(k)\" has dtype \(d); expected \(w)"
        }
    }
}

/// Device, inode, size and modification/change times of a file: changes whenever the file is replaced or
/// rewritten, in place or by rename (ctime cannot be set back by users).
public struct FileIdentity: Sendable, Equatable, CustomStringConvertible {
    /// ID of the device holding the file (`st_dev`).
    public let device: UInt64
    /// Inode number on that device (`st_ino`).
    public let inode: UInt64
    /// Size in bytes (`st_size`).
    public let size: Int64
    /// Last data modification time (`st_mtim`), in nanoseconds since the Unix epoch.
    public let modifiedNanoseconds: Int64
    /// Last status change time (`st_ctim`), in nanoseconds since the Unix epoch.
    public let changedNanoseconds: Int64

    init(_ st: stat) {
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        size = Int64(st.st_size)
        modifiedNanoseconds = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        changedNanoseconds = Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec)
    }

    /// All five fields on one line: `dev … ino … size … mtime … ctime …`.
    public var description: String {
        "dev \(device) ino \(inode) size \(size) mtime \(modifiedNanoseconds) ctime \(changedNanoseconds)"
    }
}

/// A safetensors file, memory-mapped and fully validated on open.
///
/// Tensor data is not read until asked for: ``floats(_:)`` converts F32/F16/BF16 to `[Float]`.
/// ```swift
/// let file = try SafeTensorsFile(path: "Weights/demo/model.safetensors")
/// let w = try file.floats("visual_projection.weight")
/// print(try file.info("visual_projection.weight").shape)
/// ```
public final class SafeTensorsFile: @unchecked Sendable {
    /// The largest header accepted (100 MiB), so a hostile length cannot make us allocate gigabytes.
    public static let maxHeaderLength = 100 * 1024 * 1024

    /// The path (or a label for in-memory files) used in error messages.
    public let path: String
    /// `__metadata__` string pairs, if present.
    public let metadata: [String: String]
    /// Tensor entries by key.
    public let tensors: [String: SafeTensorInfo]
    /// The mapped file's identity at open (nil for in-memory images): what a prepared-weights cache is keyed on.
    public let identity: FileIdentity?
    /// Keys in header order.
    public let keys: [String]

    /// Whether the file was read into memory (`copy`): weights should then be copied out of it, so the whole file
    /// can be freed once the model is loaded.
    public var isReadIntoMemory: Bool { !isMapped && identity != nil }

    // Immutable after init: the mapping (or owned copy) and the start of the data area.
    private let base: UnsafeRawPointer
    private let dataStart: Int
    private let totalSize: Int
    private let isMapped: Bool

    /// Opens a file and memory-maps it, or with `copy` reads it into process memory (a long-running server: the
    /// file may then be truncated, overwritten or replaced without affecting the loaded weights).
    /// - Throws: ``SafeTensorsError`` naming the file and what is wrong with it.
    public init(path: String, copy: Bool = false) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw SafeTensorsError.io(path: path, reason: "cannot open (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SafeTensorsError.io(path: path, reason: "cannot stat") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw SafeTensorsError.io(path: path, reason: "not a regular file") }
        let size = Int(st.st_size)
        guard size >= 8 else { throw SafeTensorsError.fileTooSmall(path: path, size: size) }
        let raw: UnsafeRawPointer
        if copy {
            // Read into our own memory: truncating or overwriting the file later cannot reach the weights.
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
            var done = 0
            while done < size {
                let n = read(fd, buffer + done, min(size - done, 1 << 30))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    buffer.deallocate()
                    throw SafeTensorsError.io(path: path, reason: n == 0 ? "the file shrank while it was read" : "read failed (\(String(cString: strerror(errno))))")
                }
                done += n
            }
            raw = UnsafeRawPointer(buffer)
        } else {
            guard let m = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), m != MAP_FAILED else {
                throw SafeTensorsError.io(path: path, reason: "mmap failed (\(String(cString: strerror(errno))))")
            }
            raw = UnsafeRawPointer(m)
        }
        do {
            let parsed = try SafeTensorsFile.parseHeader(raw, size: size, path: path)
            (metadata, tensors, keys, dataStart) = parsed
        } catch {
            if copy { UnsafeMutableRawPointer(mutating: raw).deallocate() } else { munmap(UnsafeMutableRawPointer(mutating: raw), size) }
            throw error
        }
        base = raw
        totalSize = size
        isMapped = !copy
        identity = FileIdentity(st)
    }

    /// Parses a safetensors image held in memory (the bytes are copied once).
    public init(bytes: [UInt8], label: String = "<memory>") throws {
        path = label
        guard bytes.count >= 8 else { throw SafeTensorsError.fileTooSmall(path: label, size: bytes.count) }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 16)
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        do {
            (metadata, tensors, keys, dataStart) = try SafeTensorsFile.parseHeader(
                UnsafeRawPointer(buffer), size: bytes.count, path: label)
        } catch {
            buffer.deallocate()
            throw error
        }
        base = UnsafeRawPointer(buffer)
        totalSize = bytes.count
        isMapped = false
        identity = nil
    }

    deinit {
        if isMapped {
            munmap(UnsafeMutableRawPointer(mutating: base), totalSize)
        } else {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }

    /// The header entry for `key`.
    public func info(_ key: String) throws -> SafeTensorInfo {
        guard let i = tensors[key] else { throw SafeTensorsError.missingTensor(path: path, key: key) }
        return i
    }

    /// The tensor's elements as `Float`, converting F16 and BF16 exactly.
    /// - Throws: ``SafeTensorsError/missingTensor(path:key:)`` or ``SafeTensorsError/unsupportedDType(path:key:dtype:wanted:)``.
    public func floats(_ key: String) throws -> [Float] {
        let info = try info(key)
        let n = info.count
        let src = base + dataStart + info.dataOffsets.lowerBound
        switch info.dtype {
        case .f32:
            return [Float](unsafeUninitializedCapacity: n) { buf, initialized in
                if n > 0 { memcpy(buf.baseAddress!, src, n * 4) }
                initialized = n
            }
        case .f16:
            return [Float](unsafeUninitializedCapacity: n) { buf, initialized in
                for i in 0..<n {
                    buf[i] = Float(Float16(bitPattern: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
                initialized = n
            }
        case .bf16:
            return [Float](unsafeUninitializedCapacity: n) { buf, initialized in
                for i in 0..<n {
                    let bits = UInt32(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16
                    buf[i] = Float(bitPattern: bits)
                }
                initialized = n
            }
        default:
            throw SafeTensorsError.unsupportedDType(path: path, key: key, dtype: info.dtype.rawValue, wanted: "F32, F16 or BF16")
        }
    }

    /// Zero-copy access to an F32 tensor inside the mapping, when it is 4-byte aligned; nil for other dtypes or
    /// unaligned data (use ``floats(_:)`` then). Valid while the file object lives.
    public func mappedFloats(_ key: String) throws -> UnsafeBufferPointer<Float>? {
        let info = try info(key)
        let src = base + dataStart + info.dataOffsets.lowerBound
        guard info.dtype == .f32, Int(bitPattern: src) % MemoryLayout<Float>.alignment == 0 else { return nil }
        return UnsafeBufferPointer(start: src.assumingMemoryBound(to: Float.self), count: info.count)
    }

    /// A tensor's bytes as stored, inside the mapping (copy them to keep them past the file's life).
    public func rawBytes(_ key: String) throws -> UnsafeRawBufferPointer {
        let info = try info(key)
        return UnsafeRawBufferPointer(start: base + dataStart + info.dataOffsets.lowerBound, count: info.dataOffsets.count)
    }

    /// The bytes of a one-byte tensor (I8 or U8) inside the mapping, without copying; valid while the file lives.
    public func mappedBytes(_ key: String) throws -> UnsafeRawBufferPointer {
        let info = try info(key)
        guard info.dtype == .i8 || info.dtype == .u8 else {
            throw SafeTensorsError.unsupportedDType(path: path, key: key, dtype: info.dtype.rawValue, wanted: "I8 or U8")
        }
        return UnsafeRawBufferPointer(start: base + dataStart + info.dataOffsets.lowerBound, count: info.count)
    }

    /// The tensor's elements as `Int64` (for I64 buffers such as `position_ids`).
    public func int64s(_ key: String) throws -> [Int64] {
        let info = try info(key)
        guard info.dtype == .i64 else {
            throw SafeTensorsError.unsupportedDType(path: path, key: key, dtype: info.dtype.rawValue, wanted: "I64")
        }
        let src = base + dataStart + info.dataOffsets.lowerBound
        return (0..<info.count).map { src.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self) }
    }

    /// The tensor's raw bytes for U8 data (e.g. image fixtures).
    public func uint8s(_ key: String) throws -> [UInt8] {
        let info = try info(key)
        guard info.dtype == .u8 else {
            throw SafeTensorsError.unsupportedDType(path: path, key: key, dtype: info.dtype.rawValue, wanted: "U8")
        }
        let src = (base + dataStart + info.dataOffsets.lowerBound).assumingMemoryBound(to: UInt8.self)
        return Array(UnsafeBufferPointer(start: src, count: info.count))
    }

    /// Tells the kernel that a tensor's mapped pages will not be read again, so they leave the resident set.
    /// Loaders call this after converting a tensor, keeping peak RSS close to one copy of the weights.
    public func release(_ key: String) {
        guard isMapped, let info = tensors[key] else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = dataStart + info.dataOffsets.lowerBound
        let end = dataStart + info.dataOffsets.upperBound
        let alignedStart = (start + page - 1) / page * page
        let alignedEnd = end / page * page
        guard alignedEnd > alignedStart else { return }
        madvise(UnsafeMutableRawPointer(mutating: base + alignedStart), alignedEnd - alignedStart, Int32(MADV_DONTNEED))
    }

    /// Maps the pages of the tensors whose keys pass `include` into the process in one system call
    /// (`MADV_POPULATE_READ`, Linux 5.14+) instead of page faults at first use. Returns whether the kernel did it;
    /// older kernels and other systems refuse, and the pages are then faulted in on use as before.
    ///
    /// ```swift
    /// file.populate { $0.hasPrefix("vision_model.") }   // e.g. on an idle core while an image decodes
    /// ```
    @discardableResult
    public func populate(where include: (String) -> Bool) -> Bool {
        #if os(Linux)
        guard isMapped else { return false }
        var lo = Int.max, hi = 0
        for (key, info) in tensors where include(key) {
            lo = min(lo, info.dataOffsets.lowerBound)
            hi = max(hi, info.dataOffsets.upperBound)
        }
        guard hi > lo else { return false }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (dataStart + lo) / page * page, end = min(totalSize, dataStart + hi)
        let populateRead: Int32 = 22   // MADV_POPULATE_READ, missing from older Glibc headers
        return madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, populateRead) == 0
        #else
        return false
        #endif
    }

    // MARK: - Header validation

    private static func parseHeader(
        _ raw: UnsafeRawPointer, size: Int, path: String
    ) throws -> ([String: String], [String: SafeTensorInfo], [String], Int) {
        let length = raw.loadUnaligned(as: UInt64.self).littleEndian
        guard length <= UInt64(maxHeaderLength) else {
            throw SafeTensorsError.headerTooLarge(path: path, length: length, limit: maxHeaderLength)
        }
        guard length <= UInt64(size - 8) else {
            throw SafeTensorsError.headerBeyondFile(path: path, length: length, fileSize: size)
        }
        let headerLength = Int(length)
        let headerBytes = UnsafeBufferPointer(start: (raw + 8).assumingMemoryBound(to: UInt8.self), count: headerLength)
        let json: JSONValue
        do {
            json = try JSONValue.parse(headerBytes)
        } catch let e as JSONError {
            if let key = e.duplicateKey { throw SafeTensorsError.duplicateKey(path: path, key: key) }
            throw SafeTensorsError.headerNotJSON(path: path, reason: e.description)
        }
        guard let members = json.objectValue else {
            throw SafeTensorsError.headerNotObject(path: path, found: json.kindName)
        }
        let dataStart = 8 + headerLength
        let dataSize = size - dataStart
        var metadata: [String: String] = [:]
        var tensors: [String: SafeTensorInfo] = [:]
        var keys: [String] = []
        for (key, value) in members {
            if key == "__metadata__" {
                guard let pairs = value.objectValue else {
                    throw SafeTensorsError.invalidMetadata(path: path, reason: "must be an object of strings, found \(value.kindName)")
                }
                for (k, v) in pairs {
                    guard let s = v.stringValue else {
                        throw SafeTensorsError.invalidMetadata(path: path, reason: "value of \"\(k)\" must be a string, found \(v.kindName)")
                    }
                    metadata[k] = s
                }
                continue
            }
            let info = try parseEntry(key: key, value: value, dataSize: dataSize, path: path)
            tensors[key] = info
            keys.append(key)
        }
        // Ranges must tile the data area exactly: sorted by start, each begins where the previous ends.
        let ordered = keys.compactMap { tensors[$0] }.sorted {
            ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound)
        }
        var end = 0
        var previous: String?
        for t in ordered {
            if t.dataOffsets.lowerBound < end, let previous {
                throw SafeTensorsError.overlapping(path: path, key: t.name, other: previous)
            }
            if t.dataOffsets.lowerBound > end {
                throw SafeTensorsError.gap(path: path, key: t.name, expectedBegin: end, begin: t.dataOffsets.lowerBound)
            }
            end = t.dataOffsets.upperBound
            previous = t.name
        }
        guard end == dataSize else { throw SafeTensorsError.trailingData(path: path, covered: end, dataSize: dataSize) }
        return (metadata, tensors, keys, dataStart)
    }

    private static func parseEntry(key: String, value: JSONValue, dataSize: Int, path: String) throws -> SafeTensorInfo {
        guard value.objectValue != nil else {
            throw SafeTensorsError.invalidEntry(path: path, key: key, reason: "entry must be an object, found \(value.kindName)")
        }
        guard let dtypeName = value["dtype"]?.stringValue else {
            throw SafeTensorsError.invalidEntry(path: path, key: key, reason: "missing or non-string \"dtype\"")
        }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            throw SafeTensorsError.unknownDType(path: path, key: key, dtype: dtypeName)
        }
        guard let shapeValues = value["shape"]?.arrayValue else {
            throw SafeTensorsError.invalidEntry(path: path, key: key, reason: "missing or non-array \"shape\"")
        }
        var shape: [Int] = []
        for d in shapeValues {
            guard case .int(let i) = d, i >= 0 else {
                throw SafeTensorsError.invalidEntry(path: path, key: key, reason: "shape \(shapeValues.map(describe)) must hold non-negative integers")
            }
            shape.append(i)
        }
        guard let offsets = value["data_offsets"]?.arrayValue, offsets.count == 2,
              case .int(let begin) = offsets[0], case .int(let end) = offsets[1]
        else {
            throw SafeTensorsError.invalidEntry(path: path, key: key, reason: "\"data_offsets\" must be [begin, end] integers")
        }
        guard begin >= 0, end >= begin, end <= dataSize else {
            throw SafeTensorsError.offsetsOutOfBounds(path: path, key: key, begin: begin, end: end, dataSize: dataSize)
        }
        guard let count = Tensor.elementCount(shape) else {
            throw SafeTensorsError.invalidEntry(path: path, key: key, reason: "shape \(shape) has too many elements")
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, bytes == end - begin else {
            throw SafeTensorsError.byteLengthMismatch(path: path, key: key, shape: shape, dtype: dtypeName,
                                                      expected: overflow ? Int.max : bytes, actual: end - begin)
        }
        return SafeTensorInfo(name: key, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }

    private static func describe(_ v: JSONValue) -> String {
        switch v {
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .string(let s): return "\"\(s)\""
        default: return v.kindName
        }
    }
}

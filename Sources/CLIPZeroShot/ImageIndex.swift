// An incremental on-disk index of image embeddings for text-to-image and image-to-image search.

import Foundation

/// Embeddings of every image under a folder, kept up to date incrementally (new or changed files are embedded,
/// deleted ones dropped) and searchable by text or image.
///
/// ```swift
/// var index = try ImageIndex.load(from: "photos/.clip-index.json") ?? ImageIndex(root: "photos")
/// let stats = try index.update(with: clip) { done, total in print(done, total) }
/// try index.save(to: "photos/.clip-index.json")
/// for hit in try index.search(text: "a dog on a beach", with: clip, top: 5) { print(hit.path, hit.score) }
/// ```
public struct ImageIndex: Codable, Sendable {
    /// One indexed file.
    public struct Entry: Codable, Sendable, Equatable {
        /// Path relative to ``root``.
        public var path: String
        public var size: Int
        public var modified: Double
        /// L2-normalised image embedding, base64 of little-endian float32.
        public var embedding: String

        var vector: [Float] {
            guard let data = Data(base64Encoded: embedding) else { return [] }
            return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
    }

    /// One search result.
    public struct Hit: Sendable, Equatable {
        public let path: String
        public let score: Float
    }

    /// What an ``update(with:batchSize:progress:)`` did.
    public struct UpdateStats: Sendable, Equatable {
        public var embedded = 0
        public var unchanged = 0
        public var removed = 0
        /// Files that could not be decoded, with the reason.
        public var failed: [(String, String)] = []
        public static func == (a: UpdateStats, b: UpdateStats) -> Bool {
            a.embedded == b.embedded && a.unchanged == b.unchanged && a.removed == b.removed && a.failed.count == b.failed.count
        }
    }

    public var version = 1
    /// The indexed folder.
    public var root: String
    /// Identifies the model that made the embeddings; a different model re-embeds everything.
    public var modelFingerprint = ""
    public var entries: [Entry] = []

    /// File extensions that are indexed.
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "bmp", "gif", "tga"]

    /// An empty index of `root`.
    ///
    /// ```swift
    /// var index = ImageIndex(root: "photos")
    /// ```
    public init(root: String) { self.root = root }

    /// Reads an index file; nil when it does not exist.
    ///
    /// ```swift
    /// let index = try ImageIndex.load(from: "photos/.clip-index.json")
    /// ```
    public static func load(from path: String) throws -> ImageIndex? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        do { return try JSONDecoder().decode(ImageIndex.self, from: data) } catch {
            throw FileReadError(path: path, reason: "not a clip search index (\(error))")
        }
    }

    /// Writes the index atomically (temporary file + rename), so an interrupted run never leaves a broken index.
    ///
    /// ```swift
    /// try index.save(to: "photos/.clip-index.json")
    /// ```
    public func save(to path: String) throws {
        let data = try JSONEncoder().encode(self)
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Scans ``root`` and brings the index up to date: embeds new or changed images in batches, drops entries of
    /// deleted files. `progress(done, total)` is called after each batch.
    ///
    /// ```swift
    /// let stats = try index.update(with: clip)
    /// print("embedded \(stats.embedded), removed \(stats.removed)")
    /// ```
    public mutating func update(with clip: CLIPZeroShot, batchSize: Int = 8,
                                progress: ((Int, Int) -> Void)? = nil) throws -> UpdateStats {
        var stats = UpdateStats()
        let fingerprint = clip.fingerprint
        if fingerprint != modelFingerprint {
            entries.removeAll()
            modelFingerprint = fingerprint
        }
        let files = try ImageIndex.scan(root)
        let existing = Dictionary(entries.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        var kept: [Entry] = []
        var todo: [(path: String, size: Int, modified: Double)] = []
        for f in files {
            if let e = existing[f.path], e.size == f.size, e.modified == f.modified {
                kept.append(e)
                stats.unchanged += 1
            } else {
                todo.append(f)
            }
        }
        let present = Set(files.map(\.path))
        stats.removed = existing.keys.filter { !present.contains($0) }.count
        var done = 0
        progress?(0, todo.count)
        for start in stride(from: 0, to: todo.count, by: max(1, batchSize)) {
            let batch = Array(todo[start..<min(start + max(1, batchSize), todo.count)])
            // Decode individually so one bad file does not sink its batch.
            var images: [CLIPImage] = []
            var ok: [(path: String, size: Int, modified: Double)] = []
            for f in batch {
                do {
                    images.append(.pixels(try clip.decode(.path(root + "/" + f.path))))
                    ok.append(f)
                } catch {
                    // The path is recorded beside the reason, so drop the decoder's own file prefix.
                    stats.failed.append((f.path, String(describing: (error as? ImageError)?.underlying ?? error)))
                }
            }
            if !images.isEmpty {
                let e = try clip.imageEmbeddings(images, normalized: true)
                let d = e.shape[1]
                for (i, f) in ok.enumerated() {
                    let row = Array(e.storage[(i * d)..<((i + 1) * d)])
                    let b64 = row.withUnsafeBytes { Data($0).base64EncodedString() }
                    kept.append(Entry(path: f.path, size: f.size, modified: f.modified, embedding: b64))
                    stats.embedded += 1
                }
            }
            done += batch.count
            progress?(done, todo.count)
        }
        entries = kept.sorted { $0.path < $1.path }
        return stats
    }

    /// The best matches for a text query (cosine similarity of normalised embeddings).
    ///
    /// ```swift
    /// let hits = try index.search(text: "a red circle", with: clip, top: 3)
    /// ```
    public func search(text: String, with clip: CLIPZeroShot, top: Int = 10) throws -> [Hit] {
        search(vector: try clip.textEmbeddings([text], normalized: true).storage, top: top)
    }

    /// The best matches for an image query.
    ///
    /// ```swift
    /// let hits = try index.search(image: .path("query.jpg"), with: clip)
    /// ```
    public func search(image: CLIPImage, with clip: CLIPZeroShot, top: Int = 10) throws -> [Hit] {
        search(vector: try clip.imageEmbeddings([image], normalized: true).storage, top: top)
    }

    /// The best matches for a normalised query vector.
    public func search(vector: [Float], top: Int) -> [Hit] {
        let hits = entries.compactMap { e -> Hit? in
            let v = e.vector
            guard v.count == vector.count else { return nil }
            var s: Float = 0
            for i in 0..<v.count { s += v[i] * vector[i] }
            return Hit(path: e.path, score: s)
        }
        return Array(hits.sorted { $0.score != $1.score ? $0.score > $1.score : $0.path < $1.path }.prefix(max(0, top)))
    }

    /// Image files under `root` (recursively, skipping hidden entries), with size and modification time.
    static func scan(_ root: String) throws -> [(path: String, size: Int, modified: Double)] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
            throw FileReadError(path: root, reason: "not a directory")
        }
        let rootURL = URL(fileURLWithPath: root).standardizedFileURL
        guard let walker = FileManager.default.enumerator(
            at: rootURL, includingPropertiesForKeys: [.fileSizeKey, .contentModificationDateKey, .isRegularFileKey],
            options: [.skipsHiddenFiles]) else { return [] }
        var out: [(String, Int, Double)] = []
        let prefix = rootURL.path.hasSuffix("/") ? rootURL.path : rootURL.path + "/"
        for case let url as URL in walker {
            guard ImageIndex.imageExtensions.contains(url.pathExtension.lowercased()) else { continue }
            let values = try? url.resourceValues(forKeys: [.fileSizeKey, .contentModificationDateKey, .isRegularFileKey])
            guard values?.isRegularFile == true else { continue }
            let full = url.standardizedFileURL.path
            let rel = full.hasPrefix(prefix) ? String(full.dropFirst(prefix.count)) : url.lastPathComponent
            out.append((rel, values?.fileSize ?? 0, values?.contentModificationDate?.timeIntervalSince1970 ?? 0))
        }
        return out.sorted { $0.0 < $1.0 }
    }
}

extension CLIPZeroShot {
    /// A string that changes when the model's weights or shape change (used to invalidate search indexes).
    public var fingerprint: String {
        let c = model.config
        // A checksum of parameters that every checkpoint has and that the load never re-lays out.
        var sum: Double = 0
        for p in [model.vision.embeddings.classEmbedding, model.vision.postLayernorm.weight, model.text.finalLayerNorm.bias] {
            for i in 0..<p.count { sum += Double(p.pointer[i]) * Double(i % 7 + 1) }
        }
        return "clip-v1 proj=\(c.projectionDim) vision=\(c.vision.hiddenSize)x\(c.vision.numHiddenLayers) " +
            "text=\(c.text.hiddenSize)x\(c.text.numHiddenLayers) scale=\(model.logitScale) sum=\(sum)"
    }
}

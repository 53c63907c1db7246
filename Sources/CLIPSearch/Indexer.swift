// Bringing an index up to date with a folder: scan, embed new and changed images in committed batches, drop deleted ones.

import CLIPZeroShot
import Foundation
import Synchronization

/// Updates an index from folders of images. Holds the index's indexer lock while it exists, so a second indexer
/// fails with ``SearchIndexError/busy(path:)`` (or waits) instead of interleaving writes.
///
/// ```swift
/// let indexer = try ImageIndexer(path: ".clip-index.db", clip: clip)
/// let summary = try indexer.update(folder: "photos") { p in print(p.done, "/", p.total) }
/// print(summary.embedded, summary.failed.count)
/// ```
public final class ImageIndexer {
    /// Progress of an ``update(folder:batchSize:progress:)``: images embedded (or failed) of those to embed.
    public struct Progress: Sendable {
        /// Images embedded or failed so far.
        public let done: Int
        /// Images to embed in this update.
        public let total: Int
    }

    /// What an update did. Every file under the folder is counted in exactly one of embedded, unchanged, failed
    /// or skipped.
    public struct Summary: Sendable, Equatable {
        /// Images embedded and committed.
        public var embedded = 0
        /// Images already in the index with the same size and modification time.
        public var unchanged = 0
        /// Entries dropped because their file is gone.
        public var removed = 0
        /// Images that could not be read or embedded, with the reason.
        public var failed: [Failure] = []
        /// Files that are not images by their extension.
        public var skipped: [String] = []
        /// Whether the index had been built with other weights (then everything was re-embedded).
        public var modelChanged = false
    }

    /// An image that could not be indexed.
    public struct Failure: Sendable, Equatable {
        /// The image's path as shown to the user.
        public let path: String
        /// Why it failed.
        public let reason: String
    }

    /// File extensions that are indexed.
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "bmp", "gif", "tga", "webp"]

    /// The index file.
    public let path: String
    let folder: String
    private let store: IndexStore
    private let lock: IndexerLock
    private let clip: CLIP

    /// Opens or creates the index at `path` and takes its indexer lock.
    ///
    /// - Parameters:
    ///   - path: the index file (created when absent).
    ///   - clip: the model that embeds the images (its fingerprint is recorded; another model re-embeds all).
    ///   - wait: wait for another indexer to finish instead of failing with ``SearchIndexError/busy(path:)``.
    public init(path: String, clip: CLIP, wait: Bool = false) throws {
        self.path = path
        self.clip = clip
        folder = ImageIndex.folder(of: path)
        lock = try IndexerLock(indexPath: path, wait: wait)
        store = try IndexStore(path: path, create: true, readOnly: false)
    }

    /// Scans `folder` recursively (hidden entries skipped) and brings its part of the index up to date: embeds
    /// new and changed images in batches of `batchSize`, each batch committed on its own (a kill loses at most
    /// the batch in flight), and drops entries of deleted files. The next batch decodes while the current one is
    /// embedded.
    public func update(folder root: String, batchSize: Int = 8, progress: ((Progress) -> Void)? = nil) throws -> Summary {
        var summary = Summary()
        summary.modelChanged = try store.setModel(fingerprint: clip.fingerprint, dimension: clip.model.config.projectionDim)
        let scan = try FolderScan(root: root, indexFolder: folder, extensions: ImageIndexer.imageExtensions)
        summary.skipped = scan.skipped
        let existing = try store.files()
        var todo: [FolderScan.File] = []
        for f in scan.files {
            if let e = existing[f.stored], e.size == f.size, e.mtime == f.mtime { summary.unchanged += 1 } else { todo.append(f) }
        }
        let present = Set(scan.files.map(\.stored))
        let gone = existing.filter { stored, _ in scan.covers(stored) && !present.contains(stored) }
        try store.delete(ids: gone.map(\.value.id))
        summary.removed = gone.count

        let n = max(1, batchSize)
        let batches = stride(from: 0, to: todo.count, by: n).map { Array(todo[$0..<min($0 + n, todo.count)]) }
        progress?(Progress(done: 0, total: todo.count))
        var done = 0
        // Decode batch i + 1 on another thread while batch i runs through the vision tower.
        var next = batches.first.map { decodeAsync($0) }
        for (b, batch) in batches.enumerated() {
            guard let pending = next else { break }   // set for every batch by the line below
            let decoded = pending.wait()
            next = b + 1 < batches.count ? decodeAsync(batches[b + 1]) : nil
            var ok: [(FolderScan.File, RGBImage)] = []
            for (f, result) in zip(batch, decoded) {
                switch result {
                case .success(let img): ok.append((f, img))
                case .failure(let e): summary.failed.append(Failure(path: f.shown, reason: ImageIndexer.reason(e)))
                }
            }
            if !ok.isEmpty {
                let e = try clip.imageEmbeddings(ok.map { .pixels($0.1) })
                var rows: [(path: String, size: Int64, mtime: Double, vector: [Float])] = []
                var ids: [Int64?] = []
                for (i, (f, _)) in ok.enumerated() {
                    let v = Array(e[i])
                    if v.allSatisfy(\.isFinite) {
                        rows.append((f.stored, f.size, f.mtime, v))
                        ids.append(existing[f.stored]?.id)
                    } else {
                        summary.failed.append(Failure(path: f.shown, reason: "the model produced non-finite values"))
                    }
                }
                try store.write(rows, replacing: ids)
                summary.embedded += rows.count
            }
            done += batch.count
            progress?(Progress(done: done, total: todo.count))
        }
        return summary
    }

    /// The decoder's message without its own file prefix (the summary names the file).
    static func reason(_ error: Error) -> String {
        String(describing: (error as? ImageError)?.underlying ?? error)
    }

    private func decodeAsync(_ batch: [FolderScan.File]) -> Pending<[Result<RGBImage, Error>]> {
        let clip = self.clip
        return Pending { batch.map { f in Result { try clip.decode(.path(f.absolute)) } } }
    }
}

/// A value computed on a background thread.
final class Pending<T: Sendable>: Sendable {
    private let value = Mutex<T?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(_ work: @escaping @Sendable () -> T) {
        DispatchQueue.global().async { [self] in
            let result = work()
            value.withLock { $0 = result }
            done.signal()
        }
    }

    func wait() -> T {
        done.wait()
        return value.withLock { $0! }
    }
}

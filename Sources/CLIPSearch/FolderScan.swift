// The files under a folder to index: images by extension (with size and mtime) and everything else, counted.

import CLIPZeroShot
import Foundation

/// One scan of a folder, recursive, hidden entries skipped.
struct FolderScan {
    struct File: Sendable {
        /// Path as stored in the index: relative to the index's folder, absolute when outside it.
        let stored: String
        /// Absolute path, for reading.
        let absolute: String
        /// Path as shown to the user.
        let shown: String
        let size: Int64
        let mtime: Double
    }

    let files: [File]
    /// Files that are not images by their extension (shown paths).
    let skipped: [String]
    /// The scanned folder's stored-path prefix ("" when it is the index's folder).
    private let storedPrefix: String

    init(root: String, indexFolder: String, extensions: Set<String>) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
            throw FileReadError(path: root, reason: "not a directory")
        }
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
        let rootURL = URL(fileURLWithPath: root, relativeTo: cwd).standardizedFileURL
        let base = indexFolder.hasSuffix("/") ? indexFolder : indexFolder + "/"
        func stored(_ absolute: String) -> String {
            absolute.hasPrefix(base) ? String(absolute.dropFirst(base.count)) : absolute
        }
        let rootPath = rootURL.path
        storedPrefix = rootPath == indexFolder ? "" : stored(rootPath).hasSuffix("/") ? stored(rootPath) : stored(rootPath) + "/"
        guard let walker = FileManager.default.enumerator(
            at: rootURL, includingPropertiesForKeys: [.fileSizeKey, .contentModificationDateKey, .isRegularFileKey],
            options: [.skipsHiddenFiles]) else {
            throw FileReadError(path: root, reason: "cannot list the folder")
        }
        var files: [File] = []
        var skipped: [String] = []
        for case let url as URL in walker {
            let values = try? url.resourceValues(forKeys: [.fileSizeKey, .contentModificationDateKey, .isRegularFileKey])
            guard values?.isRegularFile == true else { continue }
            let absolute = url.standardizedFileURL.path
            let shown = ImageIndex.display(stored(absolute), folder: indexFolder)
            guard extensions.contains(url.pathExtension.lowercased()) else {
                skipped.append(shown)
                continue
            }
            files.append(File(stored: stored(absolute), absolute: absolute, shown: shown,
                              size: Int64(values?.fileSize ?? 0),
                              mtime: values?.contentModificationDate?.timeIntervalSince1970 ?? 0))
        }
        self.files = files.sorted { $0.stored < $1.stored }
        self.skipped = skipped.sorted()
    }

    /// Whether a stored path lies under the scanned folder (so its absence means the file was deleted).
    func covers(_ stored: String) -> Bool {
        storedPrefix.isEmpty ? !stored.hasPrefix("/") : stored.hasPrefix(storedPrefix)
    }
}

// The package's semantic version (also `clip --version`); bumped with CHANGELOG.md when a release is tagged.

extension CLIPZeroShot {
    /// This release's semantic version.
    ///
    /// ```swift
    /// print(CLIPZeroShot.version)   // "0.2.0"
    /// ```
    public static let version = "0.2.0"
}

// Which hosts a remote image may come from: resolved here and refused when any address is loopback, private,
// link-local (cloud metadata), multicast, unspecified or reserved, including IPv4 hidden in IPv6 forms.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

enum AddressPolicy {
    /// Host name → its addresses as numeric strings (`93.184.215.14`, `2606:2800::1`).
    typealias Resolver = @Sendable (String) throws -> [String]

    /// The system resolver (getaddrinfo), each answer printed back as a numeric address.
    static let systemResolver: Resolver = { name in
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &list) == 0, let first = list else {
            throw RemoteFetchError.network("cannot resolve \(name)")
        }
        defer { freeaddrinfo(list) }
        var addresses: [String] = []
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let n = node {
            if let sa = n.pointee.ai_addr {
                var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                if getnameinfo(sa, n.pointee.ai_addrlen, &text, socklen_t(text.count), nil, 0, NI_NUMERICHOST) == 0 {
                    let address = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    if !addresses.contains(address) { addresses.append(address) }
                }
            }
            node = n.pointee.ai_next
        }
        return addresses
    }

    /// Resolves `host` once and returns the address to connect to (the first answer), after refusing the host when
    /// any of its addresses is not public. With `allowPrivate`, only resolution is required. The caller connects to
    /// the returned address, so a second lookup (DNS rebinding) cannot change what was checked.
    static func pin(host: String, allowPrivate: Bool, resolver: Resolver = systemResolver) throws -> String {
        let name = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        let addresses = try resolver(name)
        guard let first = addresses.first else { throw RemoteFetchError.network("\(name) has no address") }
        for address in addresses {
            guard let why = forbidden(numeric: address) else { continue }
            // A non-IP answer is never connectable; the others are refused unless private hosts are allowed.
            if !allowPrivate || why == "non-IP" { throw RemoteFetchError.network("\(name) resolves to a \(why) address (\(address))") }
        }
        return first
    }

    /// Throws unless every address `host` resolves to is public. With `allowPrivate`, only resolution is required.
    static func check(host: String, allowPrivate: Bool) throws {
        _ = try pin(host: host, allowPrivate: allowPrivate)
    }

    /// Why a numeric address may not be fetched from, or nil when it is public.
    static func forbidden(numeric address: String) -> String? {
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 { return forbidden(ipv4: UInt32(bigEndian: v4.s_addr)) }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, address, &v6) == 1 { return withUnsafeBytes(of: v6) { forbidden(ipv6: Array($0)) } }
        return "non-IP"
    }

    static func forbidden(ipv4 a: UInt32) -> String? {
        func inNet(_ base: UInt32, _ bits: UInt32) -> Bool { bits == 0 || a >> (32 - bits) == base >> (32 - bits) }
        let ranges: [(UInt32, UInt32, String)] = [
            (0x0000_0000, 8, "unspecified"), (0x0A00_0000, 8, "private"), (0x6440_0000, 10, "shared (CGNAT)"),
            (0x7F00_0000, 8, "loopback"), (0xA9FE_0000, 16, "link-local"), (0xAC10_0000, 12, "private"),
            (0xC000_0000, 24, "reserved"), (0xC000_0200, 24, "documentation"), (0xC0A8_0000, 16, "private"),
            (0xC612_0000, 15, "benchmarking"), (0xC633_6400, 24, "documentation"), (0xCB00_7100, 24, "documentation"),
            (0xE000_0000, 4, "multicast"), (0xF000_0000, 4, "reserved"),
        ]
        return ranges.first { inNet($0.0, $0.1) }?.2
    }

    static func forbidden(ipv6 b: [UInt8]) -> String? {
        guard b.count == 16 else { return "malformed" }
        let v4 = UInt32(b[12]) << 24 | UInt32(b[13]) << 16 | UInt32(b[14]) << 8 | UInt32(b[15])
        if b[0..<15].allSatisfy({ $0 == 0 }) { return b[15] == 0 ? "unspecified" : "loopback" }
        // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d): the IPv4 rules.
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF { return forbidden(ipv4: v4).map { "IPv4-mapped \($0)" } }
        if b[0..<12].allSatisfy({ $0 == 0 }) { return forbidden(ipv4: v4).map { "IPv4-compatible \($0)" } ?? "IPv4-compatible" }
        if b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B && b[4..<12].allSatisfy({ $0 == 0 }) {
            return forbidden(ipv4: v4).map { "NAT64 \($0)" }
        }
        if b[0] & 0xFE == 0xFC { return "unique local" }
        if b[0] == 0xFE && b[1] & 0xC0 == 0x80 { return "link-local" }
        if b[0] == 0xFE && b[1] & 0xC0 == 0xC0 { return "site-local" }
        if b[0] == 0xFF { return "multicast" }
        if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0D && b[3] == 0xB8 { return "documentation" }
        return nil
    }
}

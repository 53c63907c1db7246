#!/usr/bin/env python3
"""Generate Tools/data/text-tables.json (html / ftfy / Python-Unicode tables for the CLIP tokenizer port) and copy the BPE vocab next to it."""

# Every table is derived from the installed modules (Python's html module and
# unicodedata, ftfy 6.3.1, the `regex` module), never typed in by hand, so the
# Swift port reproduces open_clip's `whitespace_clean(basic_clean(text)).lower()`
# exactly for this Python/ftfy/regex combination.
#
# Conventions inside the JSON:
#   * "ranges" are lists of [first, last] inclusive code point pairs (ints),
#     sorted and non-overlapping;
#   * character maps are objects whose keys are single-code-point strings;
#   * regex patterns are given as plain (non-VERBOSE) Python `re` syntax;
#     byte patterns are given as strings in which each char U+00XX is byte XX.
#
# Usage:  python3 Tools/gen_text_tables.py [--check]
#   --check  regenerate in memory and fail if the checked-in file differs.
# Tools/gen_tokenizer_data.py then compiles both files into Sources/CCLIPTokenizerData/tokenizer_data.c.

import argparse
import gzip
import hashlib
import html
import html.entities
import json
import os
import re
import shutil
import sys
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cliptools import BPE_VOCAB as OUT_VOCAB, DATA as RES_DIR, TEXT_TABLES as OUT_JSON, require  # noqa: E402

require("ftfy", "open_clip", "regex")
import ftfy  # noqa: E402
import ftfy.badness  # noqa: E402
import ftfy.chardata  # noqa: E402
import ftfy.fixes  # noqa: E402
import open_clip.tokenizer  # noqa: E402
import regex  # noqa: E402

MAX_CP = 0x110000
SURR_LO, SURR_HI = 0xD800, 0xDFFF


def scalars():
    """All Unicode scalar values (code points minus surrogates)."""
    return (c for c in range(MAX_CP) if not SURR_LO <= c <= SURR_HI)


def to_ranges(cps):
    out = []
    for c in sorted(set(cps)):
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


def strip_verbose(pattern):
    """Turn a re.VERBOSE pattern into an equivalent plain pattern.

    Whitespace and '#' comments outside character classes are dropped; escapes
    and class contents are kept verbatim. Equivalence is verified by comparing
    sre parse trees.
    """
    out = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i : i + 2])
            i += 2
        elif in_class:
            if ch == "]":
                in_class = False
            out.append(ch)
            i += 1
        elif ch == "[":
            in_class = True
            out.append(ch)
            i += 1
            # a ']' right after '[' or '[^' is a literal member
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":
                out.append("]")
                i += 1
        elif ch in " \t\n\r\v\f":  # sre VERBOSE skips only ASCII whitespace
            i += 1
        elif ch == "#":
            while i < n and pattern[i] != "\n":
                i += 1
        else:
            out.append(ch)
            i += 1
    plain = "".join(out)
    parser = re._parser if hasattr(re, "_parser") else __import__("sre_parse")
    a = repr(parser.parse(pattern, re.VERBOSE))
    b = repr(parser.parse(plain, 0))
    if a != b:
        raise SystemExit("strip_verbose: parse trees differ")
    return plain


def bytes_pattern_as_str(p):
    return p.decode("latin-1")


def py_lower_tables():
    """str.lower() per code point, plus Cased / Case_Ignorable as Python uses them
    for the Final_Sigma rule (derived from behaviour, see comments)."""
    lower = {}
    for c in scalars():
        ch = chr(c)
        lo = ch.lower()
        if lo != ch:
            lower[ch] = lo
    # Python's handle_capital_sigma(): U+03A3 lowers to U+03C2 iff
    #   (previous non-case-ignorable char exists and is Cased) and
    #   (no following non-case-ignorable char, or it is not Cased).
    # '1' is neither cased nor case-ignorable, 'A' is cased and not ignorable.
    #   T1 = '1'+c+'Σ' -> ς  iff  c is not ignorable and is cased
    #   T4 = 'AΣ'+c+'A' -> ς iff  c is not ignorable and not cased
    ignorable, cased = [], []
    for c in scalars():
        ch = chr(c)
        t1 = ("1" + ch + "\u03a3").lower()[-1] == "\u03c2"
        t4 = ("A\u03a3" + ch + "A").lower()[1] == "\u03c2"
        if t1 and t4:
            raise SystemExit(f"inconsistent sigma probe at U+{c:04X}")
        if not t1 and not t4:
            ignorable.append(c)
        elif t1:
            cased.append(c)
    # sanity checks against well-known members
    assert 0x27 in ignorable and 0x2E in ignorable and 0x301 in ignorable
    assert 0x41 in cased and 0x3C3 in cased and 0x31 not in cased
    return lower, to_ranges(ignorable), to_ranges(cased)


def regex_class(pat, flags=0):
    p = regex.compile(pat, flags)
    s = "".join(chr(c) for c in scalars())
    return [ord(m) for m in p.findall(s)]


def build():
    t = {}
    t["generator"] = "Tools/gen_text_tables.py"
    t["versions"] = {
        "python": sys.version.split()[0],
        "pythonUnicodeData": unicodedata.unidata_version,
        "ftfy": ftfy.__version__,
        "regex": regex.__version__,
        "open_clip": getattr(open_clip, "__version__", "unknown"),
    }

    # ---------------- Python html.unescape ----------------
    t["html5"] = dict(html.entities.html5)
    t["invalidCharrefs"] = {str(k): v for k, v in sorted(html._invalid_charrefs.items())}
    t["invalidCodepoints"] = sorted(html._invalid_codepoints)
    t["htmlCharrefRegex"] = html._charref.pattern

    # ---------------- ftfy fix_text (non-encoding steps) ----------------
    cd = ftfy.chardata
    fx = ftfy.fixes
    t["ftfyHtmlEntities"] = dict(cd.HTML_ENTITIES)
    t["ftfyHtmlEntityRegex"] = cd.HTML_ENTITY_RE.pattern
    t["latinLigatures"] = {chr(k): v for k, v in sorted(cd.LIGATURES.items())}
    t["widthMap"] = {chr(k): v for k, v in sorted(cd.WIDTH_MAP.items())}
    t["controlCharsRemoved"] = to_ranges(cd.CONTROL_CHARS.keys())
    c1 = {}
    for c in range(0x80, 0xA0):
        c1[chr(c)] = fx.fix_c1_controls(chr(c))
    t["c1Map"] = c1
    lb = ["\r\n", "\r", "\u2028", "\u2029", "\u0085"]
    t["lineBreaks"] = [[s, fx.fix_line_breaks(s)] for s in lb]  # applied in this order
    single = [c for c in range(0x10000) if fx.uncurl_quotes(chr(c)) == "'" and c != 0x27]
    double = [c for c in range(0x10000) if fx.uncurl_quotes(chr(c)) == '"' and c != 0x22]
    assert [x for x in range(0x10000, MAX_CP) if fx.uncurl_quotes(chr(x)) != chr(x)] == []
    t["singleQuotes"] = to_ranges(single)
    t["doubleQuotes"] = to_ranges(double)
    t["ansiEscapeRegex"] = fx.ANSI_RE.pattern

    # ---------------- ftfy fix_encoding (mojibake detection/repair) ----------------
    enc = {}
    enc["charmapEncodings"] = list(cd.CHARMAP_ENCODINGS)
    enc["decodingTables"] = {
        e: bytes(range(256)).decode(e) for e in cd.CHARMAP_ENCODINGS
    }
    # possible_encoding(text, e) is true iff every char is in this set
    enc["possibleEncodingRegex"] = {e: r.pattern for e, r in cd.ENCODING_REGEXES.items()}
    enc["badnessRegex"] = strip_verbose(ftfy.badness.BADNESS_RE.pattern)
    enc["utf8DetectorRegex"] = strip_verbose(cd.UTF8_DETECTOR_RE.pattern)
    enc["alteredUtf8Regex"] = bytes_pattern_as_str(cd.ALTERED_UTF8_RE.pattern)
    enc["lossyUtf8Regex"] = bytes_pattern_as_str(cd.LOSSY_UTF8_RE.pattern)
    enc["aGraveWordRegex"] = bytes_pattern_as_str(fx.A_GRAVE_WORD_RE.pattern)
    enc["c1ControlRegex"] = cd.C1_CONTROL_RE.pattern
    enc["mojibakeCategories"] = dict(ftfy.badness.MOJIBAKE_CATEGORIES)
    enc["utf8Clues"] = dict(cd.UTF8_CLUES)
    t["ftfyEncoding"] = enc

    # ---------------- Python str semantics (Unicode data of this Python) ----------------
    t["pyIsSpace"] = [c for c in scalars() if chr(c).isspace()]  # str.split()/strip(), re \s
    t["pyDecimal"] = to_ranges(c for c in scalars() if chr(c).isdecimal())  # re \d (str patterns)
    lower, ign, cased = py_lower_tables()
    t["pyLower"] = lower  # str.lower() except the Final_Sigma context of U+03A3
    t["pyCaseIgnorable"] = ign
    t["pyCased"] = cased  # only meaningful for chars not in pyCaseIgnorable

    # ---------------- regex-module classes used by open_clip's pattern ----------------
    t["regexL"] = to_ranges(regex_class(r"[\p{L}]", regex.IGNORECASE))
    t["regexN"] = to_ranges(regex_class(r"[\p{N}]", regex.IGNORECASE))
    t["regexS"] = to_ranges(regex_class(r"\s", regex.IGNORECASE))
    # A code point outside \s that none of the pattern's alternatives [\p{L}]+,
    # [\p{N}], [^\s\p{L}\p{N}]+ can match under IGNORECASE is silently dropped by
    # findall (U+0345: its case variants are letters, so the negated class rejects it).
    covered = set(regex_class(r"\s", regex.IGNORECASE))
    covered |= set(regex_class(r"[\p{L}]", regex.IGNORECASE))
    covered |= set(regex_class(r"[\p{N}]", regex.IGNORECASE))
    covered |= set(regex_class(r"[^\s\p{L}\p{N}]", regex.IGNORECASE))
    t["regexUnmatchedIgnoreCase"] = [c for c in scalars() if c not in covered]
    eq = {}
    for letter in "adefilmnorstvx":
        p = regex.compile(letter, regex.IGNORECASE)
        eq[letter] = [c for c in scalars() if c != ord(letter) and p.fullmatch(chr(c))]
    t["regexIgnoreCaseEquivalents"] = eq
    tok = open_clip.tokenizer._tokenizer
    t["tokenizerPattern"] = tok.pat.pattern
    t["specialTokens"] = {"<start_of_text>": tok.sot_token_id, "<end_of_text>": tok.eot_token_id}
    return t


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", action="store_true", help="verify the checked-in files are up to date")
    args = ap.parse_args()

    tables = build()
    data = json.dumps(tables, ensure_ascii=False, separators=(",", ":"), sort_keys=False).encode("utf-8")
    src_vocab = open_clip.tokenizer.default_bpe()

    if args.check:
        ok = os.path.exists(OUT_JSON) and open(OUT_JSON, "rb").read() == data
        ok = ok and os.path.exists(OUT_VOCAB) and open(OUT_VOCAB, "rb").read() == open(src_vocab, "rb").read()
        print("up to date" if ok else "OUT OF DATE")
        sys.exit(0 if ok else 1)

    os.makedirs(RES_DIR, exist_ok=True)
    with open(OUT_JSON, "wb") as f:
        f.write(data)
    shutil.copyfile(src_vocab, OUT_VOCAB)
    with gzip.open(OUT_VOCAB) as g:
        n_lines = g.read().decode("utf-8").count("\n")
    print(f"wrote {OUT_JSON} ({len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]})")
    print(f"copied {src_vocab} -> {OUT_VOCAB} ({os.path.getsize(OUT_VOCAB)} bytes, {n_lines} lines)")


if __name__ == "__main__":
    main()

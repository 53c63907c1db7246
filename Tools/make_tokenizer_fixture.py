#!/usr/bin/env python3
"""Write Tests/Fixtures/tokenizer/corpus.json: open_clip SimpleTokenizer ids (sot + encode + eot, truncated to 77) for a deterministic corpus."""

# Output format: a JSON list of {"text": str, "ids": [int]} where
#   ids = [49406] + encode(text) + [49407], then, if longer than 77,
#   ids = ids[:77] with ids[76] = 49407   (open_clip's truncation; no padding).
# For every string the script checks that this equals
# open_clip.tokenizer.tokenize(text) with its trailing zeros stripped.
#
# It also checks that a table-driven re-implementation of the text cleaning
# (ftfy.fix_text without its mojibake repair + html.unescape x2 + strip +
# whitespace collapse + str.lower, built only from text-tables.json) and of the
# pre-tokenizer regex reproduces open_clip exactly. Strings for which ftfy's
# fix_encoding (mojibake repair) changes the result are moved out of corpus.json
# into mojibake.json (same format), so corpus.json can be matched without
# porting fix_encoding.
#
# Usage:  python3 Tools/make_tokenizer_fixture.py   (run Tools/gen_text_tables.py first)

import json
import os
import random
import re
import sys
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cliptools import CONTEXT as CTX, FIXTURES, TEXT_TABLES as TABLES, require, token_ids  # noqa: E402

require("ftfy", "open_clip", "regex")
import ftfy  # noqa: E402
import open_clip.tokenizer as oct  # noqa: E402
import regex  # noqa: E402
from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES, OPENAI_IMAGENET_TEMPLATES  # noqa: E402

OUT_DIR = os.path.join(FIXTURES, "tokenizer")
SEED = 20240229

TOK = oct.SimpleTokenizer()


# --------------------------------------------------------------------------
# reference ids
# --------------------------------------------------------------------------
def ids_for(text):
    return token_ids(TOK, text, CTX)


def ids_via_tokenize(text):
    row = oct.tokenize([text])[0].tolist()
    while row and row[-1] == 0:
        row.pop()
    return row


# --------------------------------------------------------------------------
# table-driven re-implementation (the spec the Swift port follows)
# --------------------------------------------------------------------------
class Tables:
    def __init__(self, path):
        t = json.load(open(path, encoding="utf-8"))
        self.t = t

        def rset(ranges):
            s = set()
            for a, b in ranges:
                s.update(range(a, b + 1))
            return s

        self.html5 = t["html5"]
        self.invalid_charrefs = {int(k): v for k, v in t["invalidCharrefs"].items()}
        self.invalid_codepoints = set(t["invalidCodepoints"])
        self.ftfy_entities = t["ftfyHtmlEntities"]
        self.lig = {ord(k): v for k, v in t["latinLigatures"].items()}
        self.width = {ord(k): v for k, v in t["widthMap"].items()}
        self.control = {c: None for c in rset(t["controlCharsRemoved"])}
        self.c1 = {ord(k): v for k, v in t["c1Map"].items()}
        self.line_breaks = t["lineBreaks"]
        self.squote = {c: "'" for c in rset(t["singleQuotes"])}
        self.dquote = {c: '"' for c in rset(t["doubleQuotes"])}
        self.decimal = rset(t["pyDecimal"])
        self.space = set(t["pyIsSpace"])
        self.lower = {ord(k): v for k, v in t["pyLower"].items()}
        self.ignorable = rset(t["pyCaseIgnorable"])
        self.cased = rset(t["pyCased"])
        self.L = rset(t["regexL"])
        self.N = rset(t["regexN"])
        self.S = rset(t["regexS"])
        self.unmatched = set(t["regexUnmatchedIgnoreCase"])
        self.eq = {k: set(v) for k, v in t["regexIgnoreCaseEquivalents"].items()}
        self.specials = list(t["specialTokens"].keys())

    # ---- Python html.unescape, hand-rolled scanner ----
    def html_unescape(self, s):
        if "&" not in s:
            return s
        out, i, n = [], 0, len(s)
        while i < n:
            if s[i] != "&":
                out.append(s[i])
                i += 1
                continue
            j = i + 1
            if j < n and s[j] == "#":
                k = j + 1
                if k < n and s[k] in "xX":
                    m = k + 1
                    while m < n and s[m] in "0123456789abcdefABCDEF":
                        m += 1
                    if m > k + 1:
                        num = int(s[k + 1 : m], 16)
                        if m < n and s[m] == ";":
                            m += 1
                        out.append(self._numeric(num))
                        i = m
                        continue
                else:
                    m = k
                    while m < n and s[m] in "0123456789":
                        m += 1
                    if m > k:
                        num = int(s[k:m])
                        if m < n and s[m] == ";":
                            m += 1
                        out.append(self._numeric(num))
                        i = m
                        continue
                out.append("&")  # '&#' not followed by digits: no match at this '&'
                i += 1
                continue
            # named: [^\t\n\f <&#;]{1,32};?
            m = j
            while m < n and m - j < 32 and s[m] not in "\t\n\f <&#;":
                m += 1
            if m == j:
                out.append("&")
                i += 1
                continue
            name = s[j:m]
            if m < n and s[m] == ";":
                name += ";"
                m += 1
            out.append(self._named(name))
            i = m
        return "".join(out)

    def _numeric(self, num):
        if num in self.invalid_charrefs:
            return self.invalid_charrefs[num]
        if 0xD800 <= num <= 0xDFFF or num > 0x10FFFF:
            return "\ufffd"
        if num in self.invalid_codepoints:
            return ""
        return chr(num)

    def _named(self, s):
        if s in self.html5:
            return self.html5[s]
        for x in range(len(s) - 1, 1, -1):
            if s[:x] in self.html5:
                return self.html5[s[:x]] + s[x:]
        return "&" + s

    # ---- ftfy pieces (everything except fix_encoding) ----
    def ftfy_unescape(self, s):
        def fix(m):
            txt = m.group(0)
            if txt in self.ftfy_entities:
                return self.ftfy_entities[txt]
            if txt.startswith("&#"):
                u = self.html_unescape(txt)
                return txt if ";" in u else u
            return txt

        return re.sub(r"&#?[0-9A-Za-z]{1,24};", fix, s)

    def remove_terminal_escapes(self, s):
        # ESC '[' (decimal-digit | ';')* [A-Za-z]; decimal = str.isdecimal()
        out, i, n = [], 0, len(s)
        while i < n:
            if s[i] == "\x1b" and i + 1 < n and s[i + 1] == "[":
                k = i + 2
                while k < n and (s[k] == ";" or ord(s[k]) in self.decimal):
                    k += 1
                if k < n and ("a" <= s[k] <= "z" or "A" <= s[k] <= "Z"):
                    i = k + 1
                    continue
            out.append(s[i])
            i += 1
        return "".join(out)

    def fix_surrogates(self, s):
        return s  # Swift strings cannot hold surrogates; no-op for valid text

    def ftfy_pass(self, s, unescape):
        if unescape:
            s = self.ftfy_unescape(s)
        s = s.translate(self.c1)
        s = s.translate(self.lig)
        s = s.translate(self.width)
        s = s.translate(self.dquote).translate(self.squote)
        for a, b in self.line_breaks:
            s = s.replace(a, b)
        s = self.fix_surrogates(s)
        s = self.remove_terminal_escapes(s)
        s = s.translate(self.control)
        return unicodedata.normalize("NFC", s)

    def fix_text(self, text):
        out, pos, unescape = [], 0, True
        while pos < len(text):
            brk = text.find("\n", pos) + 1 or len(text)
            seg = text[pos:brk]
            if "<" in seg:
                unescape = False  # sticky for the rest of the text
            while True:
                new = self.ftfy_pass(seg, unescape)
                if new == seg:
                    break
                seg = new
            out.append(seg)
            pos = brk
        return "".join(out)

    # ---- str.strip / split / lower ----
    def collapse(self, s):
        words, cur = [], []
        for ch in s:
            if ord(ch) in self.space:
                if cur:
                    words.append("".join(cur))
                    cur = []
            else:
                cur.append(ch)
        if cur:
            words.append("".join(cur))
        return " ".join(words)

    def py_lower(self, s):
        out = []
        for i, ch in enumerate(s):
            c = ord(ch)
            if c == 0x3A3:
                out.append("\u03c2" if self._final_sigma(s, i) else "\u03c3")
            else:
                out.append(self.lower.get(c, ch))
        return "".join(out)

    def _final_sigma(self, s, i):
        j = i - 1
        while j >= 0 and ord(s[j]) in self.ignorable:
            j -= 1
        if j < 0 or ord(s[j]) not in self.cased:
            return False
        j = i + 1
        while j < len(s) and ord(s[j]) in self.ignorable:
            j += 1
        return j == len(s) or ord(s[j]) not in self.cased

    def clean(self, text):
        s = self.fix_text(text)
        s = self.html_unescape(self.html_unescape(s))
        # str.strip() then " ".join(split()) then strip() == collapse
        return self.py_lower(self.collapse(s))

    # ---- the pre-tokenizer regex as a scanner ----
    def _ci_eq(self, c, p):
        return c == p or (p in self.eq and ord(c) in self.eq[p])

    def pretokenize(self, s):
        toks, i, n = [], 0, len(s)
        lits = self.specials + ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]
        while i < n:
            hit = None
            for lit in lits:
                if i + len(lit) <= n and all(self._ci_eq(s[i + k], lit[k]) for k in range(len(lit))):
                    hit = lit
                    break
            if hit:
                toks.append(s[i : i + len(hit)])
                i += len(hit)
                continue
            c = ord(s[i])
            if c in self.L:
                k = i + 1
                while k < n and ord(s[k]) in self.L:
                    k += 1
            elif c in self.N:
                k = i + 1
            elif c not in self.S and c not in self.unmatched:
                k = i + 1
                while k < n and not (
                    ord(s[k]) in self.S or ord(s[k]) in self.L or ord(s[k]) in self.N or ord(s[k]) in self.unmatched
                ):
                    k += 1
            else:
                i += 1
                continue
            toks.append(s[i:k])
            i = k
        return toks


# --------------------------------------------------------------------------
# corpus
# --------------------------------------------------------------------------
def handwritten():
    H = []
    add = H.extend
    # punctuation runs
    add([
        "!!!", "?!?!", "...", "…", "a--b", "a—b–c", "(hello)", "[x]{y}", "~`@#$%^&*()_+-=",
        "hello, world!", "wait... what?!", "!!!???...,,,;;;:::", "\"quoted\"", "'single'",
        "''", "'", "' '", "a'b", "-_-", ":)", ":-( ;-) :D", "<3", "</3", "<<>>", "->", "=>", "a/b\\c|d",
        "#hashtag @mention $100 50% 3*4=12", "¡hola! ¿qué?", "«guillemets» ‹single›", "·•●○",
        "§1 ¶2 †‡", "© ® ™", "℃ ℉ № ℡", "±×÷√∞≠≈≤≥", "←↑→↓↔", "♠♣♥♦", "★☆✓✔✗✘",
        "a!b?c.d", "e.g. i.e. etc.", "U.S.A.", "Mr. O'Neil", "rock'n'roll", "'90s", "'tis",
        "o'clock", "y'all'd've", "!'s", "a!'s", ".'re", "'''s", "''s",
    ])
    # contractions
    for i, w in enumerate(["it", "don", "they", "we", "I", "you", "he", "she", "can", "won"]):
        for j, c in enumerate(["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]):
            if (i * 7 + j) % 3 == 0:
                H.append(w + c)
    add([
        "it's", "don't", "they're", "we've", "I'm", "you'll", "he'd", "IT'S", "DON'T", "THEY'RE",
        "WE'VE", "I'M", "YOU'LL", "HE'D", "It'S", "iT's", "it\u2019s", "don\u2018t", "they\u2019re",
        "we\u2019ve", "I\u2019m", "you\u2019ll", "he\u2019d", "it\u02bcs", "it\u201bs", "\u201chello\u201d",
        "\u2018hello\u2019", "\u201ehello\u201f", "it's'nt", "'s", "'S", "'t's", "s'", "'re're",
        "it'ſ", "IT'ſ", "it\u2019\ufb05", "it'ſt", "'ſ", "we'Re", "ʼn", "\u0149",
        "the cat's toy isn't the dog's", "I'd've thought you'll've known",
        "Kelvin \u212a and 'K", "'\u212a",
    ])
    # numbers
    add([
        "123", "0", "007", "3.14159", "1,000,000", "2024-01-01", "10x", "x10", "1st 2nd 3rd 4th",
        "½ ¼ ¾ ⅓", "①②③", "Ⅻ ⅻ Ⅳ", "٣٤٥", "۱۲۳", "१२३", "๑๒๓", "²³¹", "𝟙𝟚𝟛", "１２３", "0x1F",
        "1e-10", "-42", "+7", "$19.99", "€5,00", "12:30pm", "3/4", "v1.2.3", "ipv4 192.168.0.1",
        "₁₂₃", "〇一二三", "a1b2c3", "99 bottles", "1234567890" * 3, "፩፪", "𒐀",
    ])
    # accents / Latin
    add([
        "café", "cafe\u0301", "CAFÉ", "CAFE\u0301", "naïve", "nai\u0308ve", "Ångström", "\u212bngstr\u00f6m",
        "A\u030angstro\u0308m", "ñandú", "n\u0303", "e\u0301\u0302", "a\u0308\u0301", "Zoë", "Dvořák",
        "Łódź", "Ṩ ṩ s\u0323\u0307 s\u0307\u0323", "q\u0307\u0323", "\u0301", "\u0301\u0301abc",
        "ǅ ǆ Ǆ", "ĳssel Ĳssel", "ǈ ǋ", "Ærøskøbing", "crème brûlée", "Tiếng Việt có dấu",
        "Nguyễn Thị Minh Khai", "façade", "señor", "São Paulo", "Kraków", "Reykjavík", "İzmir", "Þórr",
        "ŒUVRE œuvre", "œ.", "Œ!", "ſ", "ẞ", "ÀÉÎÕÜ", "àéîõü", "Ā ā Ē ē", "ȘȚ șț",
        "ℌ𝔢𝔩𝔩𝔬", "𝐁𝐨𝐥𝐝", "𝓈𝒸𝓇𝒾𝓅𝓉", "ᴀʙᴄ", "ª º", "µ", "Ω Ω", "K", "Å",
    ])
    # Greek (final sigma)
    add([
        "ΟΔΥΣΣΕΥΣ", "Σ", "ΑΣ", "ΑΣ.", "ΑΣ'Α", "Α'Σ", "ΑΣΑ", "ΣΑΣ ΣΑΣ", "σοφία", "ΣΟΦΙΑ",
        "Ἀθῆναι", "ΑΘΗΝΑΙ", "ᾼ", "Α\u0345", "ᾳ", "\u0345", "x \u0345 y", "a\u0345b", "!\u0345!",
        "ΑΣ\u0301", "ΑΣ\u0301Α", "Σ\u0308Α", "1Σ", "AΣ", "ΑΣ1", "ΑΣ-Β", "ΑΣ\u00adΒ", "ΣΣΣ",
        "Καλημέρα κόσμε", "ΚΑΛΗΜΈΡΑ ΚΌΣΜΕ", "ἈΣ", "ΟΣ:Α", "ΟΣ.Α", "ΟΣ·", "ΟΣ\u0387Α",
        "ΟΣ\u02bcΑ", "ΟΣ\u2019", "ΑΣ\U0001F600",
    ])
    # Turkish / German / Cyrillic / others
    add([
        "İstanbul", "İ", "ISTANBUL", "ı", "İI", "Kayıt", "DİYARBAKIR", "i\u0307", "İ\u0301", "DİŞ",
        "Straße", "STRASSE", "ẞ", "GROẞE", "Größe", "Fußball", "MASSE Maße",
        "Привет, мир!", "ЁЛКА ёлка", "Україна", "Српски језик", "Ѣ ѣ", "ԀԁԂ",
        "Բարեւ աշխարհ", "გამარჯობა", "ሰላም ዓለም", "ᏣᎳᎩ", "ᚠᚢᚦ", "Ⲁⲗⲫⲁ",
    ])
    # CJK / kana / Korean / RTL / Indic / SE Asian
    add([
        "你好，世界", "我爱北京天安门", "一张猫的照片。", "這是一隻狗的照片", "漢字", "𠀀𠀁𪚥",
        "こんにちは", "カタカナ", "ひらがなとカタカナ", "ｶﾀｶﾅ", "ｶﾞｷﾞｸﾞ", "ﾊﾟﾋﾟ", "ｰ", "ﾟ", "がぎぐ",
        "か\u3099き\u3099", "日本語のテキスト", "ﾃﾞｼﾞﾀﾙｶﾒﾗ", "ヴ", "ゟヿ",
        "안녕하세요", "한국어", "\u1100\u1161\u11a8", "\u1112\u1161\u11ab", "ﾡﾢﾣ", "ￂￃ", "ㄱㄴㄷ",
        "مرحبا بالعالم", "العربية", "صورة قطة", "ﷺ", "ﻻ", "שָׁלוֹם", "שלום עולם", "עִבְרִית",
        "नमस्ते दुनिया", "हिन्दी", "क्षत्रिय", "ড়", "ড\u09bc", "தமிழ்", "বাংলা", "ਪੰਜਾਬੀ", "ગુજરાતી",
        "ภาษาไทย", "สวัสดีครับ", "ພາສາລາວ", "ភាសាខ្មែរ", "မြန်မာ", "བོད་ཡིག", "ᠮᠣᠩᠭᠣᠯ",
        "\u1820\u180e\u1821", "ꦗꦮ", "ܐܪܡܝܐ", "ދިވެހި",
    ])
    # emoji
    add([
        "😀", "😀😃😄", "a😀b", "👍", "👍🏽", "👍🏻👍🏼👍🏽👍🏾👍🏿", "👨\u200d👩\u200d👧\u200d👦",
        "🏳️\u200d🌈", "🏳\ufe0f\u200d⚧\ufe0f", "🇺🇸", "🇺🇸🇯🇵🇩🇪", "🇦", "🏴\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f",
        "❤️", "❤", "1️⃣", "#️⃣", "©️", "🧑🏿\u200d🚀", "👩🏽\u200d💻", "🐶 a photo of a dog 🐕",
        "☺", "☺️", "✌🏾", "🫠🫶", "🤌", "🥲", "🦄🦄🦄", "🔥" * 10, "👁️\u200d🗨️", "🧔\u200d♀️",
    ])
    # HTML entities
    add([
        "&amp;", "&amp", "&lt;b&gt;", "&quot;hi&quot;", "&#39;", "&#x27;", "&#X27;", "&#128;", "&#x80;",
        "&#0;", "&#x0;", "&#xD800;", "&#xDFFF;", "&#x110000;", "&#999999999;", "&#1;", "&#127;", "&#xFFFE;",
        "&#x1F600;", "&#128512;", "&amp;amp;", "&amp;amp;amp;amp;", "&amp;amp;amp;amp;amp;lt;",
        "&EACUTE;", "&Eacute;", "&eacute", "&eacute;", "P&EACUTE;REZ", "BUNDESSTRA&SZLIG;E", "&SZLIG;",
        "&ntilde; &Ntilde; &NTILDE; &nTILDE;", "&AMP;", "&AMP", "&ampx", "&amp;x", "&notit;", "&notin;",
        "&not", "this&not that", "AT&T", "R&D", "&;", "&#;", "&#x;", "&#xg;", "&nbsp;", "a&nbsp;b",
        "&ensp;&emsp;&thinsp;", "&zwj;", "&zwnj;", "&shy;", "a&shy;b", "&lt;3", "&copy2023", "&copy;2023",
        "&#65abc;", "&#x41g;", "&#65", "&#x41", "&#65;;", "&frac12;", "&hellip;", "&mdash;",
        "&lsquo;it&rsquo;s&rsquo;", "&#8217;s", "it&#8217;s", "&ldquo;x&rdquo;", "&Jscr;ohn",
        "&ThickSpace;", "&NotEqualTilde;", "&checkmark;", "&HilbertSpace;", "&nbsp", "&NBSP;",
        "&#13;", "&#x0D;", "&#10;", "&#9;", "&#11;", "&#12;", "&#133;", "&#x85;", "&#129;", "&#x9D;",
        "&#x2028;", "&#xFEFF;x", "&#x200B;", "&#xFB01;sh", "&#xFF21;", "e&#x301;", "&#x3000;",
        "&#x1B;[31mred", "&#x345;", "&#931;&#913;", "&#304;", "&#x130;STANBUL", "&Sigma;&Alpha;&Sigma;",
        "&#00000065;", "&#x0000041;", "&#x41;&#x42;&#x43;", "&#65&#66&#67", "&&&", "& amp;", "&amp ;",
        "&aacute;&Aacute;&AACUTE;", "&lowbar;", "&UnderBar;", "&fjlig;", "&#x1f1fa;&#x1f1f8;",
        "&lt;start_of_text&gt;", "&lt;end_of_text&gt;", "&amp;lt;end_of_text&amp;gt;", "&lt;|endoftext|&gt;",
        "&" + "a" * 40 + ";", "&#" + "9" * 30 + ";", "&#x" + "F" * 30 + ";",
    ])
    # '<' together with entities (disables ftfy's unescape, html.unescape x2 still runs)
    add([
        "<b>&amp;</b>", "a < b &amp; c", "&lt; &amp;", "x &amp; y\n<z> &amp;", "&amp;\n<\n&amp;",
        "&amp;amp; <", "<&amp;amp;amp;>", "<p>&EACUTE;</p>", "&EACUTE;\n<", "<\n&EACUTE;",
        "< &eacute &eacute;", "<div class=\"x\">&nbsp;</div>", "1 < 2 &amp;&amp; 3 > 2", "e&#x301; <",
        "<&#x1B;[31mred", "&ldquo;<&rdquo;",
    ])
    # full-width / ligatures
    add([
        "ＬＯＵＤ\u3000ＮＯＩＳＥＳ", "ｈｅｌｌｏ，ｗｏｒｌｄ！", "Ａ photo of Ｂ", "￥１００", "￦", "｟｠",
        "￨", "ￜ", "＂quoted＂", "ＩＴ＇Ｓ", "ｉｔ＇ｓ", "（括号）", "＜end_of_text＞", "＆ａｍｐ；",
        "ﬁsh", "ﬂower", "ﬀ ﬃ ﬄ ﬅ ﬆ", "ﬁ", "ﬂuﬃeﬆ", "Ǳ ǲ ǳ", "ﬓ", "ﬗ", "Æ æ",
    ])
    # control chars / zero width
    add([
        "a\x00b", "a\x01b", "\x07bell", "a\x0bb", "a\x0cb", "a\x1bb", "\x1b[31mred\x1b[0m",
        "\x1b[1;32mbold\x1b[m", "\x1b[١m", "\x1b[12", "\x1b[;;H", "\x7f", "a\u200bb", "\u200c\u200d",
        "a\u2060b", "\ufeffbom", "a\ufeffb", "\u206a\u206b\u206fx", "\ufff9\ufffa\ufffb\ufffc", "\ufffd",
        "\x1c\x1d\x1e\x1f", "a\x1cb", "a\x80b", "caf\x80", "a\x81b", "\x8d\x8f\x90\x9d", "a\x85b",
        "a\x9fb", "\x92s", "it\x92s", "a\u200eb\u200f", "\u202aembedded\u202c", "\u2066iso\u2069",
        "\U0001d173\U0001d174", "\U000e0041", "\ue000\uf8ff", "\U000f0000", "\ufdd0", "\uffff",
        "\U0010ffff", "\x00", "\x1b", "\u180e",
    ])
    # whitespace
    add([
        "", " ", "\t", "\n", "\r\n", "   \t\n  ", "\n\n\n", "\u3000", "\u00a0", "\u2028\u2029",
        "a\tb", "a\nb", "a\r\nb", "a\rb", "a\r\rb", "a\u2028b", "a\u2029b", "a\u00a0b", "a\u3000b",
        "a\u2003b", "a\u202fb", "a\u205fb", "a\u1680b", "a\u180eb", "a\u0085b", "a\x0bb\x0cc",
        "  leading and trailing  ", "multiple     spaces", "\t \n \r\n \u3000 \u00a0 ", "a \u200b b",
        "line one\nline two\r\nline three\rline four", "tab\tseparated\tvalues",
    ])
    # special-token strings
    add([
        "<|startoftext|>", "<|endoftext|>", "a <|endoftext|> b", "<start_of_text>", "<end_of_text>",
        "<START_OF_TEXT>hello<END_OF_TEXT>", "x<end_of_text>y", "<start_of_text><end_of_text>",
        "<ſtart_of_text>", "<ſtart_of_text>hi", "hi!<end_of_text>", "a <end_of_text>", "<end_of_text>!",
        "<end_of_text>'s", "<start_of_text> a photo of a cat <end_of_text>", "<end_of_text",
        "end_of_text>", "<<end_of_text>>", "<end_of_text><end_of_text>", "<End_Of_Text>",
        "<\u212aelvin>", "<|endoftext|>" * 3,
    ])
    # URLs / code
    add([
        "https://example.com/path?q=1&r=2#frag", "http://www.google.com", "www.google.com",
        "user@example.com", "http://例え.jp/パス", "ftp://x.y/z.tar.gz", "https://a.b/c?d=&amp;e",
        "https://en.wikipedia.org/wiki/Caf%C3%A9", "file:///C:/Users/me/Desktop/photo_001.JPG",
        "def f(x):\n    return x**2", "for (int i = 0; i < n; i++) { sum += a[i]; }",
        "SELECT * FROM t WHERE a='b';", "console.log(`${x}`);", "{\"key\": [1, 2.5, null, true]}",
        "/^[a-z0-9_-]{3,16}$/", "$\\frac{a}{b}$ \\alpha_{i}^{2}", "ls -la | grep foo > out.txt",
        "#include <stdio.h>", "x &= ~mask; y |= 1 << 3;", "if a != b and c >= d: pass",
        "snake_case camelCase PascalCase kebab-case SCREAMING_CASE", "IMG_20230101_123456.jpg",
        "let s = \"it's\" // comment", "print('hello, world')",
    ])
    return H


def long_texts():
    L = []
    lorem = (
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut "
        "labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris "
        "nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit "
        "esse cillum dolore eu fugiat nulla pariatur."
    )
    L.append(lorem)
    L.append(lorem.upper())
    L.append("a photo of a dog " * 30)
    L.append("the quick brown fox jumps over the lazy dog. " * 12)
    L.append("一张猫的照片，" * 40)
    L.append("😀👍🏽🇺🇸" * 40)
    L.append("https://example.com/" + "/".join("segment%d" % i for i in range(60)))
    L.append("&amp;" * 100)
    L.append("Ἀθῆναι ΟΔΥΣΣΕΥΣ İstanbul Straße ﬁsh ＬＯＵＤ " * 10)
    L.append("x" * 500)
    L.append("1234567890" * 20)
    L.append("!?" * 100)
    L.append("\n".join("line %d &amp; more" % i for i in range(40)))
    # boundary lengths around the 77-token context: n single-token words
    for n in range(73, 80):
        L.append(" ".join(["a"] * n))
    L.append(" ".join(["dog"] * 75) + " it's")
    L.append(" ".join(["dog"] * 74) + " 😀")
    return L


def imagenet_prompts(rng):
    P = []
    names = list(IMAGENET_CLASSNAMES)
    for i in range(0, len(names), 4):
        P.append("a photo of a %s." % names[i])
    for _ in range(60):
        tmpl = rng.choice(OPENAI_IMAGENET_TEMPLATES)
        P.append(tmpl(rng.choice(names)))
    for tmpl in OPENAI_IMAGENET_TEMPLATES[:20]:
        P.append(tmpl("{}"))
    return P


RANGES = [
    (0x20, 0x7F, 6), (0xA0, 0x250, 4), (0x250, 0x370, 1), (0x300, 0x370, 2), (0x370, 0x530, 3),
    (0x530, 0x800, 2), (0x900, 0xE00, 3), (0xE00, 0x1000, 2), (0x1000, 0x2000, 2), (0x2000, 0x2C00, 3),
    (0x2C00, 0x3000, 1), (0x3000, 0x3100, 2), (0x3100, 0xA000, 3), (0xA000, 0xD800, 2), (0xE000, 0x10000, 2),
    (0x1F000, 0x1FB00, 3), (0x10000, 0x30000, 2), (0x0, 0x110000, 3),
]


def random_texts(rng, count):
    total = sum(w for _, _, w in RANGES)
    out = []
    for _ in range(count):
        n = rng.choice([1, 1, 2, 3, 5, 8, 13, 21, 34])
        chars = []
        for _ in range(n):
            r = rng.random()
            if r < 0.25:
                chars.append(rng.choice("abcdefghijklmnopqrstuvwxyz      '.,!?&;#<"))
                continue
            pick = rng.uniform(0, total)
            for lo, hi, w in RANGES:
                pick -= w
                if pick <= 0:
                    break
            while True:
                c = rng.randrange(lo, hi)
                if not 0xD800 <= c <= 0xDFFF:
                    break
            chars.append(chr(c))
        out.append("".join(chars))
    return out


def random_ascii(rng, count):
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,'!?-_&;#<>\"()"
    out = []
    for _ in range(count):
        n = rng.randrange(1, 60)
        out.append("".join(rng.choice(alphabet) for _ in range(n)))
    return out


def random_words(rng, count):
    # lower-case letter salad of varied lengths: exercises BPE merge order
    out = []
    for _ in range(count):
        words = ["".join(rng.choice("etaoinshrdlucmfwypvbgkjqxz"[: rng.randrange(5, 27)]) for _ in range(rng.randrange(1, 16))) for _ in range(rng.randrange(1, 6))]
        out.append(" ".join(words))
    return out


def mojibake_examples():
    return [
        "âœ” No problems", "sÃ³", "schÃ¶n", "voilÃ le travail", "Ã la mode", "cafÃ©", "â€œquotedâ€\x9d",
        "â€œ like this â€�", "&macr;\\_(ã\x83\x84)_/&macr;", "Broken text&hellip; it&#x2019;s ﬂubberiﬁc!",
        "ÐŸÑ€Ð¸Ð²ÐµÑ‚", "Ã¼ber", "Ã\x80 bientÃ´t", "ðŸ˜€", "Ãƒ¡", "×²", "the Ã©lÃ¨ve", "Ã\xa0",
        "â€™", "It’s Ã©tÃ©", "ВЂ", "вЂњ", "Ã© is not é",
    ]


def main():
    tables = Tables(TABLES)
    rng = random.Random(SEED)

    texts = []
    texts += imagenet_prompts(rng)
    texts += handwritten()
    texts += long_texts()
    texts += random_texts(rng, 260)
    texts += random_ascii(rng, 40)
    texts += random_words(rng, 40)
    mojibake = mojibake_examples()

    seen = set()
    uniq = []
    for t in texts:
        if t not in seen:
            seen.add(t)
            uniq.append(t)

    corpus, moji = [], []
    for t in uniq:
        if ftfy.fix_text(t) != ftfy.fix_text(t, fix_encoding=False):
            moji.append(t)
        else:
            corpus.append(t)
    for t in mojibake:
        if t not in seen:
            seen.add(t)
            moji.append(t)

    pat = TOK.pat
    failures = 0

    def record(t, check_tables):
        nonlocal failures
        ids = ids_for(t)
        ref = ids_via_tokenize(t)
        if ids != ref:
            raise SystemExit(f"formula mismatch for {t!r}: {ids} vs {ref}")
        if check_tables:
            cleaned = TOK.clean_fn(t)
            mine = tables.clean(t)
            if mine != cleaned:
                failures += 1
                print(f"table-clean mismatch: {t!r}: {mine!r} != {cleaned!r}", file=sys.stderr)
            elif tables.pretokenize(cleaned) != regex.findall(pat, cleaned):
                failures += 1
                print(f"pretokenize mismatch: {cleaned!r}", file=sys.stderr)
        return {"text": t, "ids": ids}

    corpus_rows = [record(t, True) for t in corpus]
    moji_rows = [record(t, False) for t in moji]
    if failures:
        raise SystemExit(f"{failures} table re-implementation mismatches")

    os.makedirs(OUT_DIR, exist_ok=True)

    def write(path, rows):
        with open(path, "w", encoding="utf-8") as f:
            f.write("[\n")
            f.write(",\n".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in rows))
            f.write("\n]\n")
        print(f"wrote {path}: {len(rows)} entries, {os.path.getsize(path)} bytes")

    write(os.path.join(OUT_DIR, "corpus.json"), corpus_rows)
    write(os.path.join(OUT_DIR, "mojibake.json"), moji_rows)
    n_trunc = sum(1 for r in corpus_rows if len(r["ids"]) == CTX and len(ids_for(r["text"])) == CTX)
    print(f"corpus: {len(corpus_rows)} strings ({n_trunc} at context length); "
          f"{len(moji_rows)} strings where ftfy.fix_encoding changes the result went to mojibake.json")


if __name__ == "__main__":
    main()

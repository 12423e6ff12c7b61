#!/usr/bin/env python3
"""Golden NFC / NFKC results for test_tokenizer_families (run by hand; Python's unicodedata is the
reference). Writes nfc_golden.json beside this script:
  "single": every code point (Hangul syllables aside) that NFC or NFKC changes, as [cp, NFC, NFKC];
  "strings": random strings of base letters, combining marks of several classes (out of order),
             Hangul jamo and syllables, compatibility characters and singletons, with their NFC and
             NFKC.

    python3 tests/data/tokenizers/make_nfc_golden.py
"""
import json
import pathlib
import random
import sys
import unicodedata

HERE = pathlib.Path(__file__).resolve().parent

single = []
for c in range(0x110000):
    if 0xD800 <= c <= 0xDFFF or 0xAC00 <= c <= 0xD7A3:
        continue
    ch = chr(c)
    nfc, nfkc = unicodedata.normalize("NFC", ch), unicodedata.normalize("NFKC", ch)
    if nfc != ch or nfkc != ch:
        single.append([c, nfc, nfkc])

POOL = (list("aeAEoOuUnNcCsSzZ ") + ["\u0300", "\u0301", "\u0302", "\u0308", "\u0323", "\u0327",
        "\u031B", "\u0345", "\u05B7", "\u093C", "\u3099", "\u309A", "\u0F71", "\u0F72"] +
        ["\u1100", "\u1161", "\u11A8", "\u1112", "\u1175", "\uAC00", "\uD7A3", "\uD55C"] +
        ["\uFB01", "\u2460", "\uFF21", "\u212B", "\u2126", "\u00C5", "\u1E9B", "\u0344", "\u0958",
         "\u304B", "\u30AB", "\u00BD", "\u2075", "\u3300", "\u0387", "\u01C4", "\u1F80"])
rng = random.Random(20261206)
strings = []
for _ in range(600):
    s = "".join(rng.choice(POOL) for _ in range(rng.randint(1, 12)))
    strings.append([s, unicodedata.normalize("NFC", s), unicodedata.normalize("NFKC", s)])

(HERE / "nfc_golden.json").write_text(json.dumps({
    "generator": f"make_nfc_golden.py with Python {sys.version.split()[0]} "
                 f"(Unicode {unicodedata.unidata_version})",
    "single": single, "strings": strings}, ensure_ascii=False) + "\n", encoding="utf-8")
print(len(single), "code points,", len(strings), "strings")

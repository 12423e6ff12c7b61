# Generates nfc_tables.cpp from CPython's unicodedata:
#   python3 core/src/tokenizers/gen_nfc_tables.py core/src/tokenizers/nfc_tables.cpp
import unicodedata, sys
unstable=set(); second=set()
for c in range(0x110000):
    if 0xD800<=c<=0xDFFF: continue
    ch=chr(c)
    if unicodedata.normalize('NFC',ch)!=ch: unstable.add(c)
    d=unicodedata.decomposition(ch)
    if d and not d.startswith('<'):
        parts=[int(x,16) for x in d.split()]
        if len(parts)==2: second.add(parts[1])
second.update(range(0x1161,0x1176)); second.update(range(0x11A8,0x11C3))
S=sorted(unstable|second)
r=[]
for c in S:
    if r and r[-1][1]==c-1: r[-1][1]=c
    else: r.append([c,c])
ccc=[]
for c in range(0x110000):
    if 0xD800<=c<=0xDFFF: continue
    k=unicodedata.combining(chr(c))
    if not k: continue
    if ccc and ccc[-1][1]==c-1 and ccc[-1][2]==k: ccc[-1][1]=c
    else: ccc.append([c,c,k])
o=[]
o.append(f"// GENERATED from CPython {sys.version.split()[0]} (Unicode {unicodedata.unidata_version}) by")
o.append("// gen_nfc_tables.py beside this file; see nfc.h for the meaning of each table. Do not edit by hand.")
o.append('#include "tokenizers/nfc.h"')
o.append("")
o.append("namespace atman::tokenizers::tables {")
o.append("")
o.append("// Code points whose NFC_Quick_Check is No or Maybe: NFC(c) != c, or c composes with what")
o.append("// precedes it (second parts of canonical compositions, Hangul medial/final jamo).")
o.append("const CodePointRange kNfcUnstable[] = {")
for a,b in r: o.append(f"    {{0x{a:04X}, 0x{b:04X}}},")
o.append("};")
o.append("const std::size_t kNfcUnstableCount = sizeof kNfcUnstable / sizeof kNfcUnstable[0];")
o.append("")
o.append("// Canonical_Combining_Class of every code point where it is not 0.")
o.append("const CombiningRange kCombiningClasses[] = {")
for a,b,k in ccc: o.append(f"    {{0x{a:04X}, 0x{b:04X}, {k}}},")
o.append("};")
o.append("const std::size_t kCombiningClassCount = sizeof kCombiningClasses / sizeof kCombiningClasses[0];")
o.append("")
o.append("}  // namespace atman::tokenizers::tables")
open(sys.argv[1],'w').write("\n".join(o)+"\n")

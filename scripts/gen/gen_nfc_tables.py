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
# Full decompositions (NFD and NFKD of each code point where they change it; Hangul syllables are
# decomposed by arithmetic and left out), flattened into one array each.
def decomposition_table(form, name, what):
    entries=[]; flat=[]
    for c in range(0x110000):
        if 0xD800<=c<=0xDFFF or 0xAC00<=c<=0xD7A3: continue
        d=unicodedata.normalize(form,chr(c))
        if d==chr(c): continue
        entries.append((c,len(flat),len(d))); flat.extend(ord(x) for x in d)
    o.append("")
    o.append(f"// {what}: code point, start in {name}Chars, length.")
    o.append(f"const Decomposition k{name}[] = {{")
    for i in range(0,len(entries),4):
        o.append("    "+" ".join(f"{{0x{c:04X}, {a}, {n}}}," for c,a,n in entries[i:i+4]))
    o.append("};")
    o.append(f"const std::size_t k{name}Count = sizeof k{name} / sizeof k{name}[0];")
    o.append(f"const char32_t k{name}Chars[] = {{")
    for i in range(0,len(flat),8):
        o.append("    "+" ".join(f"0x{x:04X}," for x in flat[i:i+8]))
    o.append("};")
decomposition_table('NFD','Canonical','NFD(c) != c')
decomposition_table('NFKD','Compatibility','NFKD(c) != c')
# Primary composites: a two-part canonical decomposition that NFC recomposes (this leaves out the
# composition exclusions, singletons and non-starter decompositions).
pairs=[]
for c in range(0x110000):
    if 0xD800<=c<=0xDFFF: continue
    d=unicodedata.decomposition(chr(c))
    if not d or d.startswith('<'): continue
    parts=[int(x,16) for x in d.split()]
    if len(parts)==2 and unicodedata.normalize('NFC',chr(c))==chr(c): pairs.append((parts[0],parts[1],c))
pairs.sort()
o.append("")
o.append("// Canonical compositions (first, second -> composite), sorted; Hangul is arithmetic.")
o.append("const Composition kCompositions[] = {")
for i in range(0,len(pairs),3):
    o.append("    "+" ".join(f"{{0x{a:04X}, 0x{b:04X}, 0x{c:04X}}}," for a,b,c in pairs[i:i+3]))
o.append("};")
o.append("const std::size_t kCompositionCount = sizeof kCompositions / sizeof kCompositions[0];")
o.append("")
o.append("}  // namespace atman::tokenizers::tables")
open(sys.argv[1],'w').write("\n".join(o)+"\n")

#!/usr/bin/env python3
"""Runs every generator of scripts/gen/ into a temporary folder and compares its output with the
checked-in file, byte for byte (CTest: generated_tables). With --write, regenerates the checked-in
files instead.

Exits 0 when all match, 1 when one differs or a generator fails, and 77 (CTest's skip code here)
when a generator reports that this Python has other source data (another Unicode version), since
the comparison would then say nothing about the checked-in files.
Usage: python3 scripts/gen/check_generated.py [--write]
"""
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
GENERATORS = {
    "gen_unicode_tables.py": "core/src/text/unicode_tables.cpp",
    "gen_nfc_tables.py": "core/src/text/nfc_tables.cpp",
    "gen_html_entities.py": "core/src/text/html_entities.cpp",
}
EXIT_WRONG_DATA = 77


def first_difference(a, b):
    a_lines, b_lines = a.splitlines(), b.splitlines()
    for i, (x, y) in enumerate(zip(a_lines, b_lines)):
        if x != y:
            return f"line {i + 1}:\n  checked in: {x!r}\n  generated:  {y!r}"
    return f"length: {len(a_lines)} lines checked in, {len(b_lines)} generated"


def main(argv):
    write = "--write" in argv[1:]
    failed = skipped = False
    with tempfile.TemporaryDirectory() as tmp:
        for script, target in GENERATORS.items():
            out = ROOT / target if write else pathlib.Path(tmp) / pathlib.Path(target).name
            run = subprocess.run([sys.executable, str(ROOT / "scripts/gen" / script), str(out)],
                                 capture_output=True, text=True)
            if run.returncode == EXIT_WRONG_DATA:
                print(f"SKIP {target}: {run.stderr.strip()}")
                skipped = True
                continue
            if run.returncode != 0:
                print(f"FAIL {script} exited with {run.returncode}:\n{run.stderr}")
                failed = True
                continue
            if write:
                print(f"wrote {target}")
                continue
            want, got = (ROOT / target).read_bytes(), out.read_bytes()
            if want == got:
                print(f"ok   {target}")
            else:
                print(f"FAIL {target} is not what scripts/gen/{script} writes, first at "
                      f"{first_difference(want.decode('utf-8'), got.decode('utf-8'))}\n"
                      f"  (regenerate with: python3 scripts/gen/{script} {target})")
                failed = True
    return 1 if failed else EXIT_WRONG_DATA if skipped else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""What the table generators share: their command line, and refusing to write tables from data
other than the data the checked-in tables were made from (check_generated.py then skips)."""
import sys
import unicodedata

UNICODE_VERSION = "14.0.0"
EXIT_WRONG_DATA = 77  # ctest's SKIP_RETURN_CODE for the generated_tables test


def unicode_data_problem():
    """Why this Python's Unicode data cannot make the tables, or None."""
    if unicodedata.unidata_version == UNICODE_VERSION:
        return None
    return f"needs Python with Unicode {UNICODE_VERSION}, this one has {unicodedata.unidata_version}"


def run(argv, generate, data_problem=None):
    """The generator's main: writes generate() to argv[1], unless data_problem says why not."""
    if len(argv) != 2:
        sys.exit(f"usage: {argv[0]} OUTPUT.cpp")
    if data_problem:
        print(f"{argv[0]}: {data_problem}", file=sys.stderr)
        sys.exit(EXIT_WRONG_DATA)
    with open(argv[1], "w", encoding="utf-8", newline="\n") as f:
        f.write(generate())

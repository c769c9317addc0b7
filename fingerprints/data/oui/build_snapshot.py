"""Rebuild ``ieee-registry.txt`` from IEEE registry files (run by hand; see SOURCE.md).

Usage: python build_snapshot.py MA-L-oui.txt IEEE_DATA_DIR > ieee-registry.txt

The first argument is an IEEE ``oui.txt`` (MA-L, newest available); the second a
directory holding the IEEE CSV exports ``oui.csv``, ``mam.csv``, ``oui36.csv``
and ``iab.csv`` (Debian package ``ieee-data``).  MA-L entries from the newer
``oui.txt`` win; MA-M, MA-S and IAB come from the CSVs.  Output: one
``PREFIX<TAB>REGISTRANT`` line per assignment, prefix in upper-case hex
(6, 7 or 9 digits), sorted, registrants with ``Private`` dropped.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path


def main(oui_txt: Path, csv_dir: Path) -> None:
    out: dict[str, str] = {}
    for name in ("oui.csv", "mam.csv", "oui36.csv", "iab.csv"):
        with (csv_dir / name).open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                out[row["Assignment"].upper()] = row["Organization Name"].strip()
    for line in oui_txt.read_text(encoding="utf-8", errors="replace").splitlines():
        m = re.match(r"^([0-9A-F]{6})\s*(?:\(base 16\))?\s*[:\t]\s*(.+)$", line.strip())
        if m:
            out[m.group(1)] = m.group(2).strip()
    for prefix, org in sorted(out.items()):
        if org and org.lower() != "private":
            sys.stdout.write(f"{prefix}\t{' '.join(org.split())}\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))

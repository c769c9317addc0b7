"""Longer, coverage-guided fuzzing of the parser matrix with atheris (optional, not in CI).

    pip install 'camsweep[fuzz]'       # atheris (builds for Python 3.11 here)
    PYTHONPATH=. python bench/fuzz_parsers.py http -atheris_runs=200000
    PYTHONPATH=. python bench/fuzz_parsers.py nmap-xml -max_total_time=300 -rss_limit_mb=512

Targets are the same functions as tests/security/test_parser_fuzz.py (device
parsers take the input bytes; operator-file parsers get them written to a file),
seeded with the lab corpus written to a temporary directory.  libFuzzer's
``-rss_limit_mb`` is the memory bound: a parser that holds more than that on
one input is reported as a crash, with the input saved for a regression test.
Any exception other than the parser's own error type is a finding.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from tests.security import test_parser_fuzz as matrix


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in {*matrix.DEVICE_PARSERS, *matrix.FILE_PARSERS}:
        names = ", ".join(sorted({*matrix.DEVICE_PARSERS, *matrix.FILE_PARSERS}))
        raise SystemExit(f"usage: fuzz_parsers.py TARGET [libFuzzer options]; targets: {names}")
    name = sys.argv.pop(1)
    seeds_dir = Path(tempfile.mkdtemp(prefix="camsweep-fuzz-"))
    if name in matrix.DEVICE_PARSERS:
        parser, pool = matrix.DEVICE_PARSERS[name]
        for i, seed in enumerate(pool):
            (seeds_dir / f"seed-{i}").write_bytes(seed)

        def one(data: bytes) -> None:
            parser(data)

    else:
        seed, filename, parse, error = matrix.FILE_PARSERS[name]
        (seeds_dir / "seed-0").write_bytes(seed)
        target = seeds_dir.parent / f"{seeds_dir.name}-{filename}"

        def one(data: bytes) -> None:
            target.write_bytes(data)
            try:
                parse(target)
            except error:
                pass

    atheris.Setup([sys.argv[0], *sys.argv[1:], str(seeds_dir)], one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

"""``api.fingerprint_data_version`` hashes the fingerprint data once per process."""

from __future__ import annotations

from pathlib import Path

from camsweep import api


def test_the_data_version_is_computed_once_per_process(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "http.server.yaml").write_text("- id: one\n")
    (tmp_path / "oui.txt").write_text("00-11-22 Example\n")
    first = api.fingerprint_data_version(tmp_path)
    assert first.startswith("sha256:") and len(first) == len("sha256:") + 12

    (rules / "http.server.yaml").write_text("- id: two\n")
    # the files are not read again: the changed rule is not seen within this process
    assert api.fingerprint_data_version(tmp_path) == first

    # what a new process would compute: the change does show, so the equality above is the cache
    api.fingerprint_data_version.cache_clear()
    assert api.fingerprint_data_version(tmp_path) != first


def test_the_packaged_data_version_is_stable_within_a_process() -> None:
    version = api.fingerprint_data_version()
    assert version == api.fingerprint_data_version(api.FINGERPRINT_DATA)
    assert version.startswith("sha256:")

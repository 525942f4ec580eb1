"""Peer scanners' own test suites as standing tests of hfcheck's pickle verdicts.

Ground truth is what the real loaders do, not what the peer's keyword tests expect:
tests/peer/peer_observations.json records, for each file in our scope, what pickle, torch,
joblib and numpy did when they loaded it under the loader oracle (and pickle.load of each
member of a zip or tar a user unpacks). A file needs an error when a loader reached a side
effect or resolved a global that the allowlist does not accept; otherwise it must get none,
whatever the peer says (inert text that looks like code, a pickle stored as bytes that
nothing unpickles). Two fail-closed verdicts come from the suites' own SOURCE.md: an
encrypted zip cannot be verified (error), and a .7z archive that holds a pickle is scanned
inside (#15 family 13). Keras, TensorFlow and jinja2 files are tested by the formats tests.
"""

from __future__ import annotations

import json
import shutil

import pytest
from differential import hfcheck_errors
from observe_peers import OBSERVATIONS_FILE, PEERS, expected_error, peer_verdict

OBSERVATIONS = json.loads(OBSERVATIONS_FILE.read_text())

# Files hfcheck gets wrong today: flip to passing when #15's fixes merge.
KNOWN_WRONG: dict[str, str] = {}  # the .7z (family 13) is scanned since #15


def _cases():
    for relative in sorted(OBSERVATIONS):
        marks = []
        if relative in KNOWN_WRONG:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_WRONG[relative]))
        yield pytest.param(relative, marks=marks, id=_case_id(relative))


def _case_id(relative: str) -> str:
    """The path, and where the loaders' verdict differs from the peer's, why."""
    needs_error, _ = expected_error(relative, OBSERVATIONS[relative])
    verdict, technique = peer_verdict(relative)
    if verdict == "malicious" and not needs_error:
        return f"{relative} [peer says malicious; no loader runs anything off the allowlist: {technique}]"
    if verdict == "benign" and needs_error:
        return f"{relative} [peer says benign; a loader resolves off-allowlist globals or fails closed]"
    return relative


def test_observations_cover_every_file_in_scope():
    from observe_peers import peer_files

    on_disk = {str(p.relative_to(PEERS.resolve())) for p in peer_files()}
    assert on_disk, "no peer suites found beside the repository"
    assert on_disk == set(OBSERVATIONS), "re-run tests/peer/observe_peers.py"
    firing = [r for r, rec in OBSERVATIONS.items() if any(s["side_effects"] for s in rec.values())]
    assert len(firing) >= 60, "the oracle should see many peer payloads fire"


@pytest.mark.parametrize("relative", list(_cases()))
def test_hfcheck_verdict_matches_what_the_loaders_do(relative, tmp_path):
    needs_error, why = expected_error(relative, OBSERVATIONS[relative])
    source = PEERS / relative
    target = tmp_path / "repo"
    target.mkdir()
    shutil.copyfile(source, target / source.name)  # copied as bytes, never loaded here
    errors = hfcheck_errors(target)
    if needs_error:
        assert errors, f"no error, but {why}"
    else:
        assert not errors, f"{why}, yet hfcheck reports {errors[:2]}"

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
from pathlib import Path

import pytest
from differential import classify_global, hfcheck_errors

HERE = Path(__file__).resolve().parent
from observe_peers import PEERS  # noqa: E402  (shared/ beside the checkout)
OBSERVATIONS = json.loads((HERE / "peer_observations.json").read_text())

# Fail-closed verdicts that no loader run can give (the suites' SOURCE.md says why).
FAIL_CLOSED = {
    "picklescan/tests/data/malicious1.7z": "a pickle inside a .7z archive a user unpacks (#15 family 13)",
    "picklescan/tests/data/benign_password_protected.zip": "an encrypted zip cannot be verified",
    "modelscan/tests/data/password_protected.zip": "an encrypted zip cannot be verified",
}

# Where hfcheck rightly differs from the peer's own expectation (peer says malicious, no
# loader does anything off the allowlist): the reason, shown in the test id's reason.
PEER_SAYS_MALICIOUS_BUT_INERT = {}

# Files hfcheck gets wrong today: flip to passing when #15's fixes merge.
KNOWN_WRONG: dict[str, str] = {}


def loader_reasons(record: dict) -> list[str]:
    reasons = []
    for loader, seen in record.items():
        reasons += [f"{loader}: side effect {s}" for s in seen["side_effects"]]
        for module, name in seen["globals"]:
            verdict = classify_global(module, name)
            if verdict not in ("allowed", "data"):
                reasons.append(f"{loader}: {verdict} global {module}.{name}")
    return reasons


def expected_error(relative: str) -> tuple[bool, str]:
    if relative in FAIL_CLOSED:
        return True, FAIL_CLOSED[relative]
    reasons = loader_reasons(OBSERVATIONS[relative])
    if reasons:
        return True, "; ".join(sorted(set(reasons))[:3])
    return False, "every loader resolved only allowlisted globals and reached no side effect"


def _cases():
    for relative in sorted(OBSERVATIONS):
        marks = []
        if relative in KNOWN_WRONG:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_WRONG[relative]))
        yield pytest.param(relative, marks=marks, id=relative)


def test_observations_cover_every_file_in_scope():
    from observe_peers import peer_files

    on_disk = {str(p.relative_to(PEERS.resolve())) for p in peer_files()}
    assert on_disk, "no peer suites found beside the repository"
    assert on_disk == set(OBSERVATIONS), "re-run tests/peer/observe_peers.py"
    firing = [r for r, rec in OBSERVATIONS.items() if any(s["side_effects"] for s in rec.values())]
    assert len(firing) >= 60, "the oracle should see many peer payloads fire"


@pytest.mark.parametrize("relative", list(_cases()))
def test_hfcheck_verdict_matches_what_the_loaders_do(relative, tmp_path):
    needs_error, why = expected_error(relative)
    source = PEERS / relative
    target = tmp_path / "repo"
    target.mkdir()
    shutil.copyfile(source, target / source.name)  # copied as bytes, never loaded here
    errors = hfcheck_errors(target)
    if needs_error:
        assert errors, f"no error, but {why}"
    else:
        assert not errors, f"{why}, yet hfcheck reports {errors[:2]}"

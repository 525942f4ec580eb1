"""Build hfcheck/data/model_types.json: for every `model_type` transformers has known,
the first release that knows it (and the last one, for types since removed).

Source: the transformers releases published on PyPI, i.e. the code a pin installs.
For each non-yanked final release with a wheel, this reads only the wheel's zip
directory and its `configuration_auto.py` through HTTP range requests (a few hundred
KB per release instead of the whole wheel) and takes the model types from
`CONFIG_MAPPING_NAMES` (4.11 and later) or `CONFIG_MAPPING` (2.x to 4.10) with `ast`;
nothing downloaded is imported or run. (transformers' git repository is over 1.3 GB,
too large to fetch here; its release tags and these wheels hold the same file.)

    python scripts/build_model_type_table.py [--workers 8] [--cache DIR]

Needs network access to pypi.org and files.pythonhosted.org; the generated file is
committed and tests/test_model_type_table.py checks its shape."""

from __future__ import annotations

import argparse
import ast
import datetime
import io
import json
import sys
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urljoin

from packaging.version import InvalidVersion, Version

PYPI = "https://pypi.org/pypi/transformers/json"
# where the mapping lives: 4.x and later (auto_mappings.py from 5.6 on), and 2.x-3.x
MEMBERS = (
    ("transformers/models/auto/configuration_auto.py", "transformers/models/auto/auto_mappings.py"),
    ("transformers/configuration_auto.py",),
)
MAPPINGS = ("CONFIG_MAPPING_NAMES", "CONFIG_MAPPING")
OUTPUT = Path(__file__).resolve().parent.parent / "hfcheck" / "data" / "model_types.json"


class RangeFile(io.RawIOBase):
    """A read-only, seekable view of a remote file through HTTP Range requests, with
    reads rounded up to blocks so zipfile's many small header reads stay few requests."""

    BLOCK = 256 * 1024

    def __init__(self, url: str, size: int):
        self.url, self.size, self.position = url, size, 0
        self.blocks: dict[int, bytes] = {}

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self.position

    def seek(self, offset, whence=io.SEEK_SET):
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def _block(self, index: int) -> bytes:
        if index not in self.blocks:
            start = index * self.BLOCK
            end = min(self.size, start + self.BLOCK) - 1
            request = urllib.request.Request(self.url, headers={"Range": f"bytes={start}-{end}"})
            with urllib.request.urlopen(request, timeout=60) as response:
                if response.status != 206:
                    raise OSError(f"{self.url}: server ignored the Range header (status {response.status})")
                self.blocks[index] = response.read()
        return self.blocks[index]

    def read(self, size=-1):
        end = self.size if size is None or size < 0 else min(self.size, self.position + size)
        chunks = []
        while self.position < end:
            index, offset = divmod(self.position, self.BLOCK)
            chunk = self._block(index)[offset : offset + end - self.position]
            if not chunk:
                break
            chunks.append(chunk)
            self.position += len(chunk)
        return b"".join(chunks)

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _pairs_keys(node) -> list[str]:
    """String keys of a mapping literal: `{"a": ...}`, `[("a", ...), ...]`, `OrderedDict(<those>)`
    and `OrderedDict(**{...}, **OTHER)`."""
    if isinstance(node, ast.Call):
        keys = [k for arg in node.args for k in _pairs_keys(arg)]
        return keys + [k for kw in node.keywords if kw.arg is None for k in _pairs_keys(kw.value)]
    if isinstance(node, ast.Dict):
        return [k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
    if isinstance(node, (ast.List, ast.Tuple)):
        return [
            pair.elts[0].value
            for pair in node.elts
            if isinstance(pair, ast.Tuple) and pair.elts and isinstance(pair.elts[0], ast.Constant) and isinstance(pair.elts[0].value, str)
        ]
    return []


def model_types(*sources: str) -> list[str]:
    """Every key the config mapping gets in these modules: assignments to
    CONFIG_MAPPING_NAMES (4.11 and later) or CONFIG_MAPPING (before, mapping to classes),
    and `CONFIG_MAPPING_NAMES.update({...})` calls (5.6 and later split the table into
    auto_mappings.py and add entries in configuration_auto.py)."""
    found: dict[str, list[str]] = {name: [] for name in MAPPINGS}
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name) and target.id in MAPPINGS:
                        found[target.id] += _pairs_keys(node.value)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "update"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in MAPPINGS
            ):
                found[node.func.value.id] += _pairs_keys(node)
    keys = found["CONFIG_MAPPING_NAMES"] or found["CONFIG_MAPPING"]
    return list(dict.fromkeys(keys))


def releases(index: dict) -> list[tuple[Version, str, int]]:
    """(version, wheel url, wheel size) of every final, non-yanked release with a wheel."""
    found = []
    for text, files in index["releases"].items():
        try:
            version = Version(text)
        except InvalidVersion:
            continue
        if version.is_prerelease or version.is_devrelease:
            continue
        wheels = [f for f in files if f["packagetype"] == "bdist_wheel" and not f.get("yanked")]
        if wheels:
            found.append((version, urljoin(PYPI, wheels[0]["url"]), wheels[0]["size"]))
    return sorted(found)


def types_of_release(url: str, size: int, cache: Path | None) -> list[str] | None:
    """The model types of one wheel, None when it has no configuration_auto.py."""
    cached = cache / (url.rsplit("/", 1)[-1] + ".json") if cache else None
    if cached and cached.exists():
        return json.loads(cached.read_text())
    with zipfile.ZipFile(RangeFile(url, size)) as wheel:
        names = set(wheel.namelist())
        members = next(([m for m in group if m in names] for group in MEMBERS if group[0] in names), None)
        types = model_types(*(wheel.read(m).decode("utf-8") for m in members)) if members else None
    if cached:
        cached.write_text(json.dumps(types))
    return types


def build(workers: int, cache: Path | None) -> dict:
    with urllib.request.urlopen(PYPI, timeout=60) as response:
        index = json.load(response)
    found = releases(index)
    with ThreadPoolExecutor(workers) as pool:
        per_release = list(pool.map(lambda r: types_of_release(r[1], r[2], cache), found))
    first: dict[str, str] = {}
    last: dict[str, str] = {}
    scanned = []
    for (version, _, _), types in zip(found, per_release):
        if types is None:
            continue
        scanned.append(str(version))
        for model_type in types:
            first.setdefault(model_type, str(version))
            last[model_type] = str(version)
    latest = scanned[-1]
    return {
        "source": "transformers wheels on PyPI: keys of CONFIG_MAPPING_NAMES (CONFIG_MAPPING before 4.11) in "
        "configuration_auto.py of every final release; built by scripts/build_model_type_table.py",
        "generated": datetime.date.today().isoformat(),
        "releases_scanned": {"first": scanned[0], "latest": latest, "count": len(scanned)},
        "first_release": dict(sorted(first.items())),
        # model types a newer release dropped: the last release that still knew them
        "removed": {t: v for t, v in sorted(last.items()) if v != latest},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--cache", type=Path, help="keep each release's model types here, to re-run without the network")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    if args.cache:
        args.cache.mkdir(parents=True, exist_ok=True)
    table = build(args.workers, args.cache)
    args.output.write_text(json.dumps(table, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"{len(table['first_release'])} model types from {table['releases_scanned']['count']} releases -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

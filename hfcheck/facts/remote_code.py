"""Which Python files `trust_remote_code=True` would execute: the modules `auto_map`
names in config.json / tokenizer_config.json (and the other JSON configs transformers
reads it from), plus the local modules they import relatively, transitively — the same
walk as transformers' `get_relative_import_files`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

AUTO_MAP_FILES = (
    "config.json",
    "tokenizer_config.json",
    "preprocessor_config.json",
    "processor_config.json",
    "feature_extractor_config.json",
    "image_processor_config.json",
)


class AutoMapEntry(NamedTuple):
    source: str  # the JSON file holding the auto_map
    auto_class: str  # e.g. AutoModelForCausalLM
    reference: str  # e.g. modeling_foo.FooForCausalLM or org/repo--modeling_foo.Foo
    repo_id: str | None  # another Hub repo the code comes from, or None for this one
    module_file: str | None  # e.g. modeling_foo.py; None when the reference is malformed


@dataclass
class RemoteCode:
    entries: list[AutoMapEntry] = field(default_factory=list)
    executed: list[str] = field(default_factory=list)  # files of this repo that would run
    missing: list[tuple[str, str]] = field(default_factory=list)  # (file, who needs it)


def _references(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):  # tokenizers: [slow, fast], either may be null
        for item in value:
            if isinstance(item, str):
                yield item


def auto_map_entries(repo) -> list[AutoMapEntry]:
    entries = []
    for source in AUTO_MAP_FILES:
        data = repo.json_data(source)
        auto_map = data.get("auto_map") if isinstance(data, dict) else None
        if not isinstance(auto_map, dict):
            continue
        for auto_class, value in auto_map.items():
            for reference in _references(value):
                repo_id, _, local = reference.rpartition("--")
                module, dot, _cls = local.rpartition(".")
                module_file = f"{module.replace('.', '/')}.py" if dot and module else None
                entries.append(AutoMapEntry(source, str(auto_class), reference, repo_id or None, module_file))
    return entries


def scan(repo, rel: str):
    """The static scan of one Python file (formats.python_code.CodeScan), or None."""

    def compute():
        from hfcheck.formats.python_code import scan_source

        text = repo.text(rel)
        return None if text is None else scan_source(text)

    return repo.memo(("python_scan", rel), compute)


def remote_code(repo) -> RemoteCode:
    def compute():
        result = RemoteCode(entries=auto_map_entries(repo))
        pending = [(e.module_file, e.source) for e in result.entries if e.repo_id is None and e.module_file]
        seen = set()
        while pending:
            rel, needed_by = pending.pop(0)
            if rel in seen:
                continue
            seen.add(rel)
            if not repo.exists(rel):
                result.missing.append((rel, needed_by))
                continue
            result.executed.append(rel)
            code = scan(repo, rel)
            if code is None or code.error:
                continue
            folder = rel.rpartition("/")[0]
            for module in code.relative_imports:
                target = (f"{folder}/" if folder else "") + module.replace(".", "/") + ".py"
                pending.append((target, rel))
            for name in code.relative_names:
                target = (f"{folder}/" if folder else "") + name + ".py"
                if repo.exists(target):
                    pending.append((target, rel))
        return result

    return repo.memo(("facts", "remote_code"), compute)

"""How many bytes a model's pickle checkpoints hold, without unpickling them: a torch
zip checkpoint (torch.save since 1.6) keeps each tensor storage as one `<archive>/data/<key>`
member, so the members' sizes are the weights' bytes as stored. Legacy (non-zip) torch
pickles and other pickles cannot be sized this way and are listed as such, so a check
that needs their size says it was skipped instead of passing."""

from __future__ import annotations

import re
import zipfile

from hfcheck.facts.weights import pickle_weights

_STORAGE_MEMBER = re.compile(r"^[^/]+/data/\d+$")


def pickle_storage_bytes(repo) -> tuple[int, list[str]]:
    """(bytes of every tensor storage in the model's torch zip checkpoints, the pickle
    weight files whose size could not be read)."""

    def compute():
        total, unsized = 0, []
        for rel in pickle_weights(repo):
            size = repo.file_fact(
                "zip_storage_bytes", rel, lambda rel=rel: _zip_storage_bytes(repo, rel)
            )  # by content identity (hfcheck.cache)
            if size is None:
                unsized.append(rel)
            else:
                total += size
        return total, unsized

    return repo.memo(("facts", "pickle_storage_bytes"), compute)


def _zip_storage_bytes(repo, rel: str) -> int | None:
    if repo.is_placeholder(rel):
        return None
    stream = repo.open(rel)
    if stream is None:
        return None
    try:
        with stream, zipfile.ZipFile(stream) as archive:
            return sum(info.file_size for info in archive.infolist() if _STORAGE_MEMBER.match(info.filename))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None

"""How many bytes a model's pickle checkpoints hold, without unpickling them: a torch
zip checkpoint (torch.save since 1.6) keeps each tensor storage as one `<archive>/data/<key>`
member, so the members' sizes are the weights' bytes as stored. Legacy (non-zip) torch
pickles and other pickles cannot be sized this way and are listed as such, so a check
that needs their size says it was skipped instead of passing."""

from __future__ import annotations

from hfcheck.facts.weights import pickle_weights


def pickle_storage_bytes(repo) -> tuple[int, list[str]]:
    """(bytes of every tensor storage in the model's torch zip checkpoints, the pickle
    weight files whose size could not be read). The sizes come from the security scan's
    own reading of each archive's directory (PickleScan.storage_bytes): one reading per file."""

    def compute():
        total, unsized = 0, []
        for rel in pickle_weights(repo):
            scan = repo.pickle_scan(rel)
            size = scan.storage_bytes if scan is not None else None
            if size is None:
                unsized.append(rel)
            else:
                total += size
        return total, unsized

    return repo.memo(("facts", "pickle_storage_bytes"), compute)

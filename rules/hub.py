"""Rules about Hub targets (`hfcheck org/name`): files of the checked commit that hfcheck
did not download, so nothing inside them was checked. Local targets never trigger them."""

from hfcheck.findings import Finding
from hfcheck.registry import rule


def _skipped(repo, reason):
    snapshot = repo.hub
    return [s for s in snapshot.skipped if s.reason == reason] if snapshot is not None else []


@rule("SEC950", concern="security", severity="info")
def hub_pickle_not_scanned(repo):
    """A pickle weights file of a Hub repo was not downloaded, so it was not scanned.

    Why: unpickling runs code: `torch.load` of a hostile `.bin`/`.pt`/`.pkl` executes
    whatever its pickle asks for (JFrog, 2024, found models on the Hub whose pickles
    open a reverse shell on load). hfcheck checks Hub repos from their small files and safetensors headers
    and does not download weights by default, so a clean report says nothing about these
    files.
    Fix: rerun with `--download-pickles` to fetch and scan them, or publish the weights
    as safetensors and delete the pickle files.
    Example: `pytorch_model.bin` next to `model.safetensors` in a repo checked as
    `hfcheck org/name`.
    """
    for skipped in _skipped(repo, "pickle"):
        yield Finding.at(
            skipped.rel,
            f"pickle file ({skipped.size / (1 << 20):.1f} MiB) on the Hub was not downloaded, so it was not scanned for code execution",
        )


@rule("WGT950", concern="weights", severity="info")
def hub_weights_not_fetched(repo):
    """A non-safetensors weights file of a Hub repo was not downloaded, so it was not checked.

    Formats hfcheck cannot check from a header fetched by range request: GGUF, ONNX,
    HDF5, msgpack, NumPy.

    Why: for Hub targets hfcheck fetches only small files and safetensors headers (range
    requests), so that a 140 GB repo is checked in seconds; the report must say which
    files it never looked at rather than pass them silently.
    Fix: download the repo (`hf download org/name`) and check the local folder to cover
    these files.
    """
    for skipped in _skipped(repo, "weights"):
        yield Finding.at(
            skipped.rel, f"weights file ({skipped.size / (1 << 20):.1f} MiB) on the Hub was not downloaded, so it was not checked"
        )

"""The smoke pass's progress display: a tqdm bar on a terminal (as transformers and
accelerate show theirs), plain lines in CI logs, nothing with --quiet."""

from __future__ import annotations

import contextlib
import sys
from typing import Callable, Iterator

# The steps run_smoke reports for a causal LM with a chat template and a declared
# envelope; other models report fewer, and the bar closes complete either way.
EXPECTED_STEPS = 12


@contextlib.contextmanager
def smoke_progress(label: str, *, quiet: bool = False, stream=None) -> Iterator[Callable[[str], None]]:
    """A callback for run_smoke's `progress` that shows each step of checking `label`."""
    stream = stream or sys.stderr
    if quiet:
        yield lambda step: None
        return
    if not stream.isatty():
        yield lambda step: print(f"hfcheck smoke {label}: {step}", file=stream, flush=True)
        return
    from tqdm import tqdm

    with tqdm(
        total=EXPECTED_STEPS,
        desc=f"smoke {label}",
        file=stream,
        leave=False,
        mininterval=0,
        bar_format="{desc}: {bar:20} {n_fmt}/{total_fmt} {elapsed} {postfix}",
    ) as bar:

        def step(message: str) -> None:
            bar.set_postfix_str(message, refresh=False)
            if bar.n < bar.total:
                bar.update(1)
            else:
                bar.refresh()

        yield step
        bar.update(bar.total - bar.n)

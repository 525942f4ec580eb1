"""Pinning: the deployment must install the library versions and load the model
revision it was tested with. Read from the dependency files, serving configs and
loading code of the target tree; a bare model repo (no deployment files) is not
checked."""

from hfcheck.facts import config as config_facts
from hfcheck.facts import deploy
from hfcheck.findings import Finding
from hfcheck.registry import rule

CORE = ("torch", "tokenizers", "accelerate", "safetensors", "huggingface-hub")


def _unpinned(repo, package):
    """Declarations of `package` that do not pin one version, unless a lock pins it."""
    deps = deploy.dependencies(repo)
    if deps.locked(package):
        return
    for item in deps.of(package):
        if item.dependency.pinned_version is None:
            yield item


def _describe(spec: str) -> str:
    return f"the range {spec!r}" if spec else "no version"


@rule("PIN001", concern="pinning", severity="error")
def transformers_unpinned(repo):
    """transformers is installed without an exact version (unpinned, or a range).

    Why: the next image build installs whatever transformers is newest; a minor
    release has changed tokenizer defaults (special tokens, padding, chat templates)
    and silently changed every prediction (the seed incident: all outputs turned
    positive after a rebuild). Ranges (`>=4.40`, `^4.40`, `~=4.40`) leave the same door
    open.
    Fix: pin the version you tested (`transformers==4.46.0`) or install from a lock file
    (poetry.lock, uv.lock, pip-compile output with hashes).
    Example: requirements.txt with `transformers>=4.40`.
    """
    for item in _unpinned(repo, "transformers"):
        spec = item.dependency.specifier
        yield Finding.at(item.path, f"transformers is installed with {_describe(spec)}: the next build may pick a release that changes tokenizer or generation defaults", line=item.dependency.line)


@rule("PIN002", concern="pinning", severity="warning")
def core_unpinned(repo):
    """torch, tokenizers, accelerate, safetensors or huggingface-hub is installed
    without an exact version.

    Why: these decide numerics (torch kernels), tokenization (tokenizers) and how
    weights are placed and loaded (accelerate, safetensors, huggingface-hub); an
    unpinned one changes under the model at the next build.
    Fix: pin each to the version you tested, or install from a lock file.
    """
    for package in CORE:
        for item in _unpinned(repo, package):
            yield Finding.at(item.path, f"{package} is installed with {_describe(item.dependency.specifier)}", line=item.dependency.line)


@rule("PIN003", concern="pinning", severity="warning")
def transformers_too_old(repo):
    """The pinned transformers is older than the one that saved the model (warning), or
    does not know the model's `model_type` at all: older than the first release that
    added it, or newer than the last release before it was removed (error).

    Why: a release that predates the architecture (or dropped it) fails with "model
    type X not recognized"; one older than `transformers_version` in config.json may
    read newer config fields wrongly or ignore them (rope scaling, attention variants).
    The release of each model_type comes from hfcheck's table of every transformers
    release (hfcheck/data/model_types.json).
    Fix: pin at least the transformers version in config.json's `transformers_version`
    (and no newer than the last release that has the model, for removed ones).
    Example: `transformers==4.36.2` for a model with `"model_type": "qwen2"` (added in 4.37.0).
    """
    from packaging.version import InvalidVersion, Version

    pinned = deploy.dependencies(repo).pinned_version("transformers")
    if pinned is None or not repo.config:
        return
    version, path, line = pinned
    try:
        have = Version(version)
    except InvalidVersion:
        return
    model_type = config_facts.model_type(repo)
    table = config_facts.model_type_table()
    first = table.get("first_release", {}).get(model_type)
    last = table.get("removed", {}).get(model_type)
    try:
        if first and have < Version(first):
            yield Finding.at(path, f"transformers {version} is pinned, but model_type {model_type!r} first appeared in transformers {first}: loading fails with 'model type not recognized'", line=line, severity="error")
            return
        if last and have > Version(last):
            yield Finding.at(path, f"transformers {version} is pinned, but model_type {model_type!r} was removed after transformers {last}: loading fails with 'model type not recognized'", line=line, severity="error", fix=f"pin transformers=={last} or port the model to a supported architecture")
            return
    except InvalidVersion:
        pass
    saved = repo.config.get("transformers_version")
    try:
        if isinstance(saved, str) and have < Version(saved):
            yield Finding.at(path, f"transformers {version} is pinned, older than {saved} that saved the model (config.json transformers_version)", line=line)
    except InvalidVersion:
        return


def _load_points(repo):
    """(path, line, what, model id, revision, line of revision) of every hub model load."""
    for path, load in deploy.model_loads(repo):
        revision = load.value("revision")
        yield path, load.line, f"{load.callee}({load.model!r})", load.model, revision, load.line_of("revision")
    for serving in deploy.servings(repo):
        model = serving.get("model")
        revision = serving.get("revision")
        yield serving.path, serving.line_of("model"), f"{serving.engine} model {model!r}", model, revision, serving.line_of("revision")


@rule("PIN004", concern="pinning", severity="warning")
def revision_not_pinned(repo):
    """A Hub model id is loaded without `revision=` pinned to a commit sha (in code, TGI
    REVISION / --revision, vLLM --revision, SageMaker HF_MODEL_REVISION).

    Why: without a revision the server loads whatever `main` points to at start-up; a
    push to the model repo (new weights, a changed tokenizer or chat template) reaches
    production on the next restart, and two replicas can serve different models.
    Branches and tags can move too; only a 40-character commit sha is fixed.
    Fix: pass `revision="<commit sha>"` (the sha of the commit you tested).
    """
    for path, line, what, model, revision, revision_line in _load_points(repo):
        if not deploy.is_hub_id(model, repo):
            continue
        if not isinstance(revision, str) or not revision:
            yield Finding.at(path, f"{what} is loaded without a revision: it follows the repo's main branch", line=line)
        elif not deploy.SHA.match(revision):
            yield Finding.at(path, f"{what} is loaded at revision {revision!r}, a branch or tag that can move; pin a commit sha", line=revision_line)


@rule("PIN005", concern="pinning", severity="info")
def deprecated_kwargs(repo):
    """A model is loaded with a deprecated keyword: `use_auth_token`.

    Why: transformers deprecated `use_auth_token` in 4.34 for `token` and removed it in
    v5; a pinned upgrade then fails with an unexpected keyword argument.
    Fix: pass `token=` instead (or rely on HF_TOKEN in the environment).
    """
    for path, load in deploy.model_loads(repo):
        if "use_auth_token" in load.kwargs:
            yield Finding.at(path, f"{load.callee} uses use_auth_token=, deprecated for token=", line=load.line_of("use_auth_token"))

"""Pinning: the deployment must install the library versions and load the model
revision it was tested with. Read from the dependency files, serving configs and
loading code of the target tree; a bare model repo (no deployment files) is not
checked."""

from hfcheck.edits import Edit, FixRefused
from hfcheck.facts import config as config_facts
from hfcheck.facts import deploy, pin_edits
from hfcheck.findings import Finding
from hfcheck.registry import fixer, rule

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
    release has changed tokenizer defaults (special tokens, padding, chat templates),
    and a classifier rebuilt that way can change every prediction without one error.
    Ranges (`>=4.40`, `^4.40`, `~=4.40`) leave the same door
    open.
    Fix: pin the version you tested, or install from a lock file (poetry.lock, uv.lock,
    pip-compile output with hashes). The finding names the version the fixer writes
    (chosen as below), a release that knows the model and is not older than the one
    that saved it, so following it raises no PIN003.
    Example: requirements.txt with `transformers>=4.40`.
    Fixes: an unsafe fix (it chooses the version the service will run: needs
    --unsafe-fixes) that rewrites the specifier where it is declared to `==X`, keeping
    extras, markers, comments and the rest of the file: requirement and constraint files,
    pyproject.toml (`[project]` strings; Poetry `"^4.40"` becomes `"4.46.0"`), Pipfile,
    setup.cfg, environment.yml and `pip install` words in Dockerfiles and shell scripts.
    X is the transformers installed where hfcheck runs when it is at least config.json's
    `transformers_version`, else that `transformers_version` (the release that saved the
    model); a candidate outside the declared range, a development build (`.dev0`), or a
    release that does not know the model_type is skipped. With no candidate left, or a form
    it cannot rewrite safely (a shell variable, a URL, a multi-line entry), that one
    declaration is left unchanged and the reason printed.
    """
    for item in _unpinned(repo, "transformers"):
        spec = item.dependency.specifier
        yield Finding.at(
            item.path,
            f"transformers is installed with {_describe(spec)}: the next build may pick a release that changes tokenizer or generation defaults",
            line=item.dependency.line,
            fix=_pin_advice(repo, "transformers", spec),
        )


def _pin_advice(repo, package: str, specifier: str) -> str | None:
    """The fix text: the version the fixer would write (one choice, _version_to_pin), or
    None (the rule's generic Fix) when it would refuse."""
    try:
        version = _version_to_pin(repo, package, specifier)
    except FixRefused:
        return None
    return f"pin `{package}=={version}` where it is declared (what `--fix --unsafe-fixes` writes), or install from a lock file"


@rule("PIN002", concern="pinning", severity="warning")
def core_unpinned(repo):
    """torch, tokenizers, accelerate, safetensors or huggingface-hub is installed
    without an exact version.

    Why: these decide numerics (torch kernels), tokenization (tokenizers) and how
    weights are placed and loaded (accelerate, safetensors, huggingface-hub); an
    unpinned one changes under the model at the next build.
    Fix: pin each to the version you tested, or install from a lock file.
    Fixes: an unsafe fix (needs --unsafe-fixes) that rewrites each specifier to `==X`
    where it is declared (the file forms of PIN001), X being the version installed where
    hfcheck runs (its public part: torch `2.4.1+cu121` is pinned as `2.4.1`, which matches
    every build). A package not installed there, a development build, or an installed
    version outside the declared range is left unchanged with the reason: pin it by hand.
    """
    for package in CORE:
        for item in _unpinned(repo, package):
            spec = item.dependency.specifier
            yield Finding.at(
                item.path, f"{package} is installed with {_describe(spec)}", line=item.dependency.line, fix=_pin_advice(repo, package, spec)
            )


# -- the fix: pin where it is declared --------------------------------------------


@fixer("PIN001", safe=False)
def pin_transformers(repo, findings):
    """transformers pinned (==) to the version installed here, or to the one that saved the model"""
    return _pin(repo, findings, ("transformers",))


@fixer("PIN002", safe=False)
def pin_core(repo, findings):
    """pinned (==) to the versions installed here"""
    return _pin(repo, findings, CORE)


def installed_version(package: str) -> str | None:
    """The version of `package` in the environment running hfcheck, from its metadata
    (the package is never imported)."""
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _in_range(specifier: str, version) -> bool:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return SpecifierSet(specifier).contains(version, prereleases=True)
    except InvalidSpecifier:
        raise FixRefused(f"the declared range {specifier!r} is not PEP 440; pin it by hand") from None


def _version_to_pin(repo, package: str, specifier: str) -> str:
    """The version to pin (see the rules' Fixes: paragraphs), or FixRefused with every
    reason a candidate was skipped."""
    from packaging.version import InvalidVersion, Version

    candidates, skipped = [], []
    installed = installed_version(package)
    try:
        have = Version(installed) if installed else None
    except InvalidVersion:
        have, skipped = None, [f"the installed version {installed!r} is not PEP 440"]
    if installed is None:
        skipped.append("not installed here")
    elif have is not None and have.is_devrelease:
        skipped.append(f"the installed {installed} is a development build, on no package index")
    elif have is not None:
        candidates.append((Version(have.public), "installed here"))
    if package == "transformers":
        saved = (repo.config or {}).get("transformers_version")
        try:
            made = Version(saved) if isinstance(saved, str) else None
        except InvalidVersion:
            made = None
        if made is None:
            skipped.append("config.json has no valid transformers_version")
        else:
            if candidates and candidates[0][0] < made:
                skipped.append(f"the installed {candidates[0][0]} is older than {saved}, which saved the model")
                candidates = []
            if made.is_devrelease:
                skipped.append(f"config.json's transformers_version {saved} is a development build, on no package index")
            elif not candidates or candidates[0][0] != made:
                candidates.append((Version(made.public), "saved the model"))
    for version, source in candidates:
        if not _in_range(specifier, version):
            skipped.append(f"{version} ({source}) is outside the declared range {specifier!r}")
        elif package == "transformers" and _model_type_problem(repo, version):
            skipped.append(f"{version} ({source}): {_model_type_problem(repo, version)[0]}")
        else:
            return str(version)
    raise FixRefused("; ".join(skipped) + "; pin it by hand")


def _pin(repo, findings, packages) -> list:
    """Edits pinning each declaration the findings point at, one file at a time; a
    declaration that cannot be pinned becomes a FixRefused in the list and leaves its
    file's text as it was."""
    flagged = {(f.path, f.line, f.message.split(" ", 1)[0]) for f in findings}
    by_path: dict[str, list] = {}
    for package in packages:
        for item in _unpinned(repo, package):
            if (item.path, item.dependency.line, package) in flagged:
                by_path.setdefault(item.path, []).append((package, item.dependency))
    results: list = []
    for path, declared in by_path.items():
        text = original = repo.text(path)
        done = set()
        for package, dep in declared:
            key = (package, dep.line, dep.raw)
            if key in done:  # the same word twice in one command: pinned together
                continue
            done.add(key)
            where = f"{path}:{dep.line}" if dep.line else path
            same = sum(1 for p, d in declared if (p, d.line, d.raw) == key)
            try:
                if text is None:
                    raise FixRefused("the file could not be read as UTF-8 text")
                version = _version_to_pin(repo, package, dep.specifier)
                pinned = pin_edits.pinned_text(repo, path, text, package, dep, version, same)
            except FixRefused as why:
                results.append(FixRefused(f"{where}: {package}: {why}"))
                continue
            text = pinned
        if text != original:
            results.append(Edit(path, text.encode("utf-8")))
    return results


@rule("PIN003", concern="pinning", severity="warning")
def transformers_too_old(repo):
    """The pinned transformers is older than the one that saved the model (warning), or
    does not know the model's `model_type` at all: older than the first release that
    added it, or newer than the last release before it was removed (error).

    A model whose auto_map ships its AutoConfig brings its own model_type (as in
    CFG005): only the `transformers_version` comparison applies to it.

    Why: a release that predates the architecture (or dropped it) fails with "model
    type X not recognized"; one older than `transformers_version` in config.json may
    read newer config fields wrongly or ignore them (rope scaling, attention variants).
    The release of each model_type comes from hfcheck's table of every transformers
    release (hfcheck/data/model_types.json). Every exact pin is checked (a Dockerfile may
    pin another release than requirements.txt); a lock file's pin replaces them.
    Fix: pin at least the transformers version in config.json's `transformers_version`
    (and no newer than the last release that has the model, for removed ones).
    Example: `transformers==4.36.2` for a model with `"model_type": "qwen2"` (added in 4.37.0).
    """
    if not repo.config:
        return
    from packaging.version import InvalidVersion, Version

    for version, path, line in _exact_pins(repo):
        try:
            have = Version(version)
        except InvalidVersion:
            continue
        problem = None if _ships_config_code(repo) else _model_type_problem(repo, have)
        if problem:
            message, last = problem
            fix = f"pin transformers=={last} or port the model to a supported architecture" if last else None
            yield Finding.at(
                path,
                f"transformers {version} is pinned, but {message}: loading fails with 'model type not recognized'",
                line=line,
                severity="error",
                fix=fix,
            )
            continue
        saved = repo.config.get("transformers_version")
        try:
            if isinstance(saved, str) and have < Version(saved):
                yield Finding.at(
                    path,
                    f"transformers {version} is pinned, older than {saved} that saved the model (config.json transformers_version)",
                    line=line,
                )
        except InvalidVersion:
            continue


def _ships_config_code(repo) -> bool:
    """auto_map names an AutoConfig: the model's own code defines its model_type (as in
    CFG005), so transformers' table of model types does not decide whether it loads."""
    from hfcheck.facts import remote_code

    return any(entry.auto_class == "AutoConfig" for entry in remote_code.auto_map_entries(repo))


def _exact_pins(repo) -> list[tuple[str, str, int | None]]:
    """(version, path, line) of transformers' exact pins: the lock file's, else every
    declaration's (a Dockerfile may pin another release than requirements.txt)."""
    deps = deploy.dependencies(repo)
    first = deps.pinned_version("transformers")
    if first is None or first[2] is None:  # none, or a lock file: it decides
        return [first] if first else []
    pins = []
    for item in deps.of("transformers"):
        version = item.dependency.pinned_version
        if (
            version
            and not version.startswith(("http", "git+"))
            and "://" not in version
            and (version, item.path, item.dependency.line) not in pins
        ):
            pins.append((version, item.path, item.dependency.line))
    return pins


def _model_type_problem(repo, version) -> tuple[str, str | None] | None:
    """(why, last release) when transformers `version` does not know the model's
    model_type: older than the first release that has it, or newer than the last one
    before it was removed (hfcheck/data/model_types.json)."""
    from packaging.version import InvalidVersion, Version

    model_type = config_facts.model_type(repo)
    table = config_facts.model_type_table()
    first = table.get("first_release", {}).get(model_type)
    last = table.get("removed", {}).get(model_type)
    try:
        if first and version < Version(first):
            return f"model_type {model_type!r} first appeared in transformers {first}", None
        if last and version > Version(last):
            return f"model_type {model_type!r} was removed after transformers {last}", last
    except InvalidVersion:
        pass
    return None


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

    Also read: org-less canonical ids (`gpt2`), notebooks, KServe/KubeAI `hf://` URIs
    (`hf://org/name:revision`), Ray, dstack, SkyPilot and Triton configs.

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
            yield Finding.at(
                path, f"{what} is loaded at revision {revision!r}, a branch or tag that can move; pin a commit sha", line=revision_line
            )


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

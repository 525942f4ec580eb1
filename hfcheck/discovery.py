"""Discovery: one pass over a target's file tree that finds every model unit and every
deployment unit in it, and the links between them.

A model unit is a folder that holds one model: transformers (config.json with
model_type), sentence-transformers (modules.json; its module folders 1_Pooling/, ...
belong to it), a diffusers pipeline (model_index.json; unet/, vae/, scheduler/ belong to
it, while a component that is itself a transformers model or a tokenizer is a unit of its
own, part of the pipeline), a PEFT adapter, a GGUF or ONNX export, a tokenizer-only
folder, loose weights. Every file belongs to the deepest unit folder above it.

A deployment unit gathers the files outside model units that deploy a model: code that
loads one, Dockerfiles, compose files, Kubernetes manifests, TGI/vLLM/SageMaker configs
and dependency files, grouped under the nearest folder that holds a Dockerfile, compose
file or dependency file (else the target root). Its links name the model units it loads,
directly (`from_pretrained("./model")`) or through a path a Dockerfile COPY/ADD or a
compose/Kubernetes volume maps into the container; a Hub id is a link too ("hub:org/name").

Rules then run once per unit on a view scoped to it (`unit_views`): a model unit sees its
own files at its root and the deployment files linked to it, so device-map, memory-fit,
max-length and tensor-parallel checks use the linked model's real shapes."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field, replace

from hfcheck.filekinds import TOKENIZER_MARKERS, WEIGHT_SUFFIXES

DEPLOY_ANCHORS = re.compile(
    r"^(Dockerfile.*|Containerfile|.*\.dockerfile|(docker-)?compose.*\.ya?ml|.*requirements.*\.txt|constraints.*\.txt|pyproject\.toml|setup\.cfg|Pipfile|environment\.ya?ml)$"
)
DOCKERFILE = re.compile(r"^(Dockerfile.*|Containerfile|.*\.dockerfile)$")
COMPOSE = re.compile(r"^(docker-)?compose.*\.ya?ml$")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# What a target must hold to be checked at all (said in the finding when it holds none).
LOOKED_FOR = (
    "a model (config.json, model_index.json, modules.json, adapter_config.json, tokenizer files, *.gguf, *.onnx or weight files) "
    "or a deployment (code that loads a model, Dockerfile, compose file, Kubernetes manifest, TGI/vLLM/SageMaker config, dependency file)"
)
# Model kinds that are published as a model repo of their own: the card and license rules apply.
CARD_KINDS = {"transformers", "sentence-transformers", "diffusers", "peft", "gguf", "onnx", "tokenizer"}
# Rules that only make sense for a published model, never for a service or a folder of models.
MODEL_ONLY_CONCERNS = ("card", "license")


@dataclass
class Unit:
    path: str  # relative to the target, "." for the root
    kind: str  # "transformers", "sentence-transformers", "diffusers", "peft", "gguf", "onnx", "tokenizer", "weights", "deployment"
    summary: str = ""
    files: list[str] = field(default_factory=list)  # relative to the target
    settings_file: str | None = None
    links: list[str] = field(default_factory=list)  # unit paths (or "hub:org/name") linked to this one
    part_of: str | None = None  # a diffusers component: the pipeline's unit path
    model_type: str | None = None

    @property
    def is_model(self) -> bool:
        return self.kind != "deployment"

    @property
    def gets_card_rules(self) -> bool:
        # loose weights at the target's top are a model the user pointed at; deeper ones
        # (a pickled classifier inside a service) are scanned, not held to a model card
        return (self.kind in CARD_KINDS or (self.kind == "weights" and self.path == ".")) and self.part_of is None

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "kind": self.kind,
            "summary": self.summary,
            "files": self.files,
            "settings_file": self.settings_file,
            "links": self.links,
        }


@dataclass
class Link:
    deployment: str  # deployment unit path
    model: str  # model unit path or "hub:org/name"
    source: str  # the file that names the model
    line: int | None
    name: str = ""  # the model string as written there
    via: str | None = None  # the Dockerfile / compose / manifest that maps the path into the container


@dataclass
class Discovery:
    units: list[Unit]
    owner: dict[str, str]  # file -> model unit path, for files inside a model unit
    deployment_of: dict[str, str]  # file -> deployment unit path
    links: list[Link]
    skipped_dirs: list[str]
    loads: list = field(default_factory=list)  # (path, ModelLoad) of the files outside model units
    servings: list = field(default_factory=list)  # Serving of the files outside model units

    @property
    def models(self) -> list[Unit]:
        return [u for u in self.units if u.is_model]

    @property
    def deployments(self) -> list[Unit]:
        return [u for u in self.units if not u.is_model]

    def unit(self, path: str) -> Unit | None:
        return next((u for u in self.units if u.path == path), None)

    def unit_of_file(self, rel: str) -> str | None:
        """The unit that owns a file: its model unit, else its deployment unit."""
        return self.owner.get(rel) or self.deployment_of.get(rel)

    def model_unit_of(self, rel: str) -> str | None:
        """The model unit whose folder holds a path (listed or not: a refused symlink)."""
        if rel in self.owner:
            return self.owner[rel]
        paths = {u.path for u in self.models}
        current = _parent(rel) if rel != "." else "."
        while current is not None:
            if current in paths:
                return current
            current = _parent(current)
        return None

    def linked_loads(self, source: str, name) -> set[str]:
        """The local model units a model string in `source` was linked to."""
        return {link.model for link in self.links if link.source == source and link.name == name and not link.model.startswith("hub:")}


def _parent(folder: str) -> str | None:
    if folder == ".":
        return None
    head = folder.rpartition("/")[0]
    return head or "."


def _join(folder: str, rel: str) -> str:
    return posixpath.normpath(rel if folder == "." else f"{folder}/{rel}")


def _folders(files) -> dict[str, list[str]]:
    folders: dict[str, list[str]] = {}
    for rel in files:
        folder, _, name = rel.rpartition("/")
        folders.setdefault(folder or ".", []).append(name)
    return folders


def _classify(view, folder: str, names: list[str]) -> tuple[str, list[str], str | None] | None:
    """(kind, component folders, model_type) of a folder that is a model root, else None."""
    present = set(names)

    def data(name):
        return view.json_data(_join(folder, name))

    if "model_index.json" in present:
        index = data("model_index.json")
        parts = [k for k, v in index.items() if isinstance(v, list)] if isinstance(index, dict) else []
        return "diffusers", [_join(folder, p) for p in parts], None
    if "modules.json" in present:
        modules = data("modules.json")
        parts = (
            [m["path"] for m in modules if isinstance(m, dict) and isinstance(m.get("path"), str) and m["path"]]
            if isinstance(modules, list)
            else []
        )
        config = data("config.json") if "config.json" in present else None
        return (
            "sentence-transformers",
            [_join(folder, p) for p in parts],
            (config or {}).get("model_type") if isinstance(config, dict) else None,
        )
    if "adapter_config.json" in present:
        return "peft", [], None
    has_weights = any(n.endswith(WEIGHT_SUFFIXES) for n in names)
    if "config.json" in present:
        config = data("config.json")
        if isinstance(config, dict) and "_class_name" in config:
            return "diffusers", [], None
        model_type = config.get("model_type") if isinstance(config, dict) else None
        if (
            isinstance(config, dict)
            and (model_type or "architectures" in config)
            or has_weights
            or any(n in present for n in TOKENIZER_MARKERS)
        ):
            return "transformers", [], model_type if isinstance(model_type, str) else None
    if any(n.endswith(".gguf") for n in names):
        return "gguf", [], None
    if any(n.endswith(".onnx") for n in names):
        return "onnx", [], None
    if any(n in present for n in TOKENIZER_MARKERS):
        return "tokenizer", [], None
    if has_weights:
        return "weights", [], None
    return None


def _model_units(view, folders) -> tuple[dict[str, Unit], dict[str, str]]:
    """Model units by folder, and the component folders that belong to one of them."""
    units: dict[str, Unit] = {}
    component_of: dict[str, str] = {}
    for folder in sorted(folders, key=lambda f: (f.count("/"), f)):
        if folder in component_of:
            continue
        found = _classify(view, folder, folders[folder])
        if found is None:
            continue
        kind, components, model_type = found
        units[folder] = Unit(folder, kind, model_type=model_type)
        for part in components:
            component_of[part] = folder
    # A pipeline component that is a transformers model or a tokenizer is checked by the
    # rules that fit it (config, tokenizer, weights); unet/vae/scheduler stay inside the pipeline.
    for part, pipeline in component_of.items():
        if units[pipeline].kind != "diffusers" or part not in folders:
            continue
        found = _classify(view, part, folders[part])
        if found and found[0] in ("transformers", "tokenizer"):
            units[part] = Unit(part, found[0], part_of=pipeline, model_type=found[2])
    return units, component_of


def _owners(folders, units: dict[str, Unit], component_of: dict[str, str]) -> dict[str, str | None]:
    """folder -> the model unit path that owns it (the deepest unit folder above it)."""
    memo: dict[str, str | None] = {}

    def owner(folder: str) -> str | None:
        if folder in memo:
            return memo[folder]
        if folder in units:
            result = folder
        else:
            parent = _parent(folder)
            result = owner(parent) if parent is not None else None
        memo[folder] = result
        return result

    for folder in folders:
        # iterative warm-up from the top keeps the recursion shallow on deep trees
        chain = []
        current = folder
        while current is not None and current not in memo:
            chain.append(current)
            current = _parent(current)
        for item in reversed(chain):
            owner(item)
    return memo


def discover(view) -> Discovery:
    """Units and links of the target behind `view` (a RepoView of the whole target)."""
    files = view.files
    folders = _folders(files)
    units, component_of = _model_units(view, folders)
    folder_owner = _owners(folders, units, component_of)
    owner: dict[str, str] = {}
    rest: list[str] = []
    for rel in files:
        found = folder_owner.get(rel.rpartition("/")[0] or ".")
        if found is None:
            rest.append(rel)
        else:
            owner[rel] = found
            units[found].files.append(rel)
    for unit in units.values():
        unit.summary = _model_summary(view, unit)
    deployments, deployment_of, links = _deployments(view, rest, units)
    all_units = sorted(units.values(), key=lambda u: u.path) + deployments
    from hfcheck.facts import deploy

    rest_view = rest_view_of(view, rest)
    return Discovery(
        all_units,
        owner,
        deployment_of,
        links,
        list(view.tree.skipped_dirs),
        list(deploy.model_loads(rest_view)),
        list(deploy.servings(rest_view)),
    )


def _model_summary(view, unit: Unit) -> str:
    every_weight = [rel for rel in unit.files if rel.endswith(WEIGHT_SUFFIXES)]
    weights = [rel for rel in every_weight if "/" not in to_unit(rel, unit.path)]  # shards at the unit's top
    size = sum(view.files[rel].size for rel in every_weight)
    kind = unit.kind + (f" {unit.model_type}" if unit.model_type else "")
    parts = [kind]
    if unit.part_of:
        parts[0] += f" (part of the {unit.part_of} pipeline)"
    if every_weight:
        shards = len(weights) or len(every_weight)
        parts.append(f"{shards} weight file{'s' if shards != 1 else ''}")
        parts.append(f"{size / 1e9:.1f} GB" if size >= 5e7 else f"{size / 1e6:.1f} MB")
    else:
        parts.append("no weights")
    return ", ".join(parts)


# -- deployments -------------------------------------------------------------------


def _deployments(view, rest: list[str], units: dict[str, Unit]):
    """Deployment units among the files outside every model unit, and their links."""
    from hfcheck.facts import deploy

    rest_view = rest_view_of(view, rest)
    references = []  # (file, line, model string)
    for path, load in deploy.model_loads(rest_view):
        if load.model:
            references.append((path, load.line, load.model))
    for serving in deploy.servings(rest_view):
        model = serving.get("model")
        if isinstance(model, str):
            references.append((serving.path, serving.line_of("model"), model))
    references.extend(_constructor_references(rest_view))
    deploy_files = (
        set(deploy.dependencies(rest_view).files) | {path for path, _, _ in references} | {s.path for s in deploy.servings(rest_view)}
    )
    maps = []  # (deployment-side path, tree path)
    for rel in rest:
        name = rel.rpartition("/")[2]
        if DOCKERFILE.match(name) or COMPOSE.match(name):
            deploy_files.add(rel)
        if DOCKERFILE.match(name):
            maps.extend(_dockerfile_maps(rest_view, rel))
        elif rel.endswith((".yaml", ".yml")):
            found = _volume_maps(rest_view, rel)
            if found:
                deploy_files.add(rel)
                maps.extend(found)
    anchors = {rel.rpartition("/")[0] or "." for rel in rest if DEPLOY_ANCHORS.match(rel.rpartition("/")[2])}
    deployment_of = {rel: _anchor(rel, anchors) for rel in sorted(deploy_files)}
    by_path: dict[str, Unit] = {}
    for rel, folder in deployment_of.items():
        by_path.setdefault(folder, Unit(folder, "deployment")).files.append(rel)
    links = _links(references, maps, units, deployment_of)
    for link in links:
        deployment = by_path[link.deployment]
        if link.model not in deployment.links:
            deployment.links.append(link.model)
        model = units.get(link.model)
        if model is not None and link.deployment not in model.links:
            model.links.append(link.deployment)
    for unit in by_path.values():
        unit.summary = _deployment_summary(unit, links)
    return sorted(by_path.values(), key=lambda u: u.path), deployment_of, links


def rest_view_of(view, rest: list[str]):
    """The view of the files outside every model unit (memoised on the target's view)."""

    def build():
        from hfcheck.repo import RepoView

        scoped = RepoView(
            view.root, view.label, limits=view.limits, exclude=view.exclude, settings=view.settings, tree=view.tree, hub=view.hub
        )
        scoped._files = {rel: view.files[rel] for rel in rest}
        scoped.read_errors = {}
        return scoped

    return view.memo(("discovery", "rest"), build)


def _constructor_references(rest_view) -> list:
    from hfcheck.formats.path_maps import constructor_loads

    found = []
    for rel in rest_view.glob_anywhere("*.py"):
        text = rest_view.text(rel)
        if text:
            found.extend((rel, load.line, load.model) for load in constructor_loads(text))
    return found


def _dockerfile_maps(rest_view, rel: str) -> list[tuple[str, str]]:
    from hfcheck.formats.path_maps import dockerfile_copies

    text = rest_view.text(rel)
    folder = rel.rpartition("/")[0] or "."
    return [(copy.dest, _join(folder, copy.source), rel) for copy in dockerfile_copies(text or "")]


def _volume_maps(rest_view, rel: str) -> list[tuple[str, str]]:
    text = rest_view.text(rel, rest_view.limits.yaml_bytes)
    if not text or ("volumes" not in text and "hostPath" not in text):
        return []
    from hfcheck.formats.path_maps import volume_maps
    from hfcheck.formats.yaml_doc import parse_yaml

    folder = rel.rpartition("/")[0] or "."
    found = []
    for chunk in re.split(r"(?m)^---\s*$", text):
        doc = parse_yaml(chunk)
        if doc.error is None:
            found.extend((item.dest, item.source) for item in volume_maps(doc.data))
    return [(dest, source if source.startswith("/") else _join(folder, source), rel) for dest, source in found]


def _anchor(rel: str, anchors: set[str]) -> str:
    folder = rel.rpartition("/")[0] or "."
    while folder is not None:
        if folder in anchors:
            return folder
        folder = _parent(folder)
    return "."


def _links(references, maps, units: dict[str, Unit], deployment_of: dict[str, str]) -> list[Link]:
    links = []
    for source, line, model in references:
        target, via = _resolve_model(source, model, maps, units, deployment_of.get(source, "."))
        if target is not None:
            links.append(Link(deployment_of.get(source, "."), target, source, line, model, via))
    return links


def _resolve_model(source: str, model: str, maps, units: dict[str, Unit], deployment: str) -> tuple[str | None, str | None]:
    """(model unit or "hub:org/name", the file whose path mapping led there) for a model
    string as seen from `source`; (None, None) when it names nothing known."""
    model = model.strip()
    candidates = []  # (tree path, via)
    if model.startswith("/"):
        for dest, tree_path, via in maps:
            dest = dest.rstrip("/") or "/"
            if model == dest or model.startswith(dest + "/"):
                candidates.append((tree_path + model[len(dest) :], via))
    else:
        folder = source.rpartition("/")[0] or "."
        candidates += [(_join(folder, model), None), (_join(deployment, model), None), (posixpath.normpath(model), None)]
    for candidate, via in candidates:
        candidate = posixpath.normpath(candidate)
        if candidate.startswith(("..", "/")):
            continue
        found = _unit_at_or_above(candidate, units)
        if found is not None:
            return found, via
    if not model.startswith((".", "/", "~")) and HUB_ID.match(model):
        return f"hub:{model}", None
    return None, None


def _unit_at_or_above(path: str, units: dict[str, Unit]) -> str | None:
    current: str | None = path
    while current is not None:
        if current in units and current != ".":
            unit = units[current]
            return unit.part_of or unit.path
        current = _parent(current)
    return "." if "." in units and path == "." else None


def _deployment_summary(unit: Unit, links: list[Link]) -> str:
    mine = [link for link in links if link.deployment == unit.path]
    sources = sorted(
        {name for link in mine for name in (link.source, link.via) if name},
        key=lambda rel: (rel.endswith((".yml", ".yaml")) or "Dockerfile" in rel, rel),
    )
    sources = [to_unit(rel, unit.path) for rel in sources] or sorted({to_unit(rel, unit.path) for rel in unit.files})[:4]
    shown = " + ".join(sources)
    if unit.links:
        return f"{shown} -> {', '.join(unit.links)}"
    return f"{shown} (loads no model of this tree)"


# -- per-unit views ------------------------------------------------------------------


def to_unit(rel: str, unit_path: str) -> str:
    """A target-relative path as the unit's view names it ("../serve.py" for a file above)."""
    return rel if unit_path == "." else posixpath.relpath(rel, unit_path)


def to_target(rel: str | None, unit_path: str) -> str | None:
    if rel is None or unit_path == ".":
        return rel
    return posixpath.normpath(f"{unit_path}/{rel}")


def unit_view(view, found: Discovery, unit: Unit, settings):
    """A repo view scoped to one model unit: its own files at its root, plus the files of
    the deployment units linked to it (named relative to the unit, "../serve.py"), whose
    model loads and serving configs are narrowed to the ones that load this unit."""
    from hfcheck.facts import deploy
    from hfcheck.repo import RepoView

    root = view.root if unit.path == "." else view.root / unit.path
    scoped = RepoView(
        root,
        view.label if unit.path == "." else f"{view.label}/{unit.path}",
        limits=view.limits,
        settings=settings,
        tree=view.tree,
        hub=view.hub,
    )
    nested = {u.path for u in found.models if u.path != unit.path}
    own = [rel for rel in unit.files if rel not in nested]
    linked_deployments = [u for u in found.deployments if u.path in unit.links]
    linked_files = [rel for d in linked_deployments for rel in d.files]
    scoped.real_paths = {to_unit(rel, unit.path): rel for rel in own + linked_files}
    scoped.real_paths.update(_sibling_tokenizer(found, unit, scoped.real_paths))
    scoped._files = {key: view.files[rel] for key, rel in scoped.real_paths.items()}
    scoped.read_errors = {
        to_unit(rel, unit.path): error._replace(path=to_unit(rel, unit.path))
        for rel, error in view.read_errors.items()
        if found.model_unit_of(rel) == unit.path
    }
    if unit.path != ".":
        loads = [(to_unit(path, unit.path), load) for path, load in found.loads if unit.path in found.linked_loads(path, load.model)]
        servings = [
            replace(s, path=to_unit(s.path, unit.path)) for s in found.servings if unit.path in found.linked_loads(s.path, s.get("model"))
        ]
        deploy.scope_deployment(scoped, loads, servings)
    return scoped


def _sibling_tokenizer(found: Discovery, unit: Unit, present: dict) -> dict[str, str]:
    """A pipeline's text_encoder{,_2} is tokenized by its sibling tokenizer{,_2} folder:
    the component's view sees those files at its root (named as they really are in
    findings), so vocabulary-versus-embedding checks run across the two."""
    parent, _, name = unit.path.rpartition("/")
    if unit.part_of is None or not name.startswith("text_encoder"):
        return {}
    sibling = found.unit(_join(parent or ".", "tokenizer" + name[len("text_encoder") :]))
    if sibling is None:
        return {}
    return {
        to_unit(rel, sibling.path): rel
        for rel in sibling.files
        if "/" not in to_unit(rel, sibling.path) and to_unit(rel, sibling.path) not in present
    }


def deployment_view(view, found: Discovery, settings):
    """The view of every file outside the model units, for the deployment checks. Loads
    and serving configs that name a model unit of the tree are checked in that unit's
    view (against its real shapes), so they are left out here; Hub ids and computed
    names stay."""
    from hfcheck.facts import deploy

    rest = rest_view_of(view, [])
    rest.settings = settings
    loads = [(path, load) for path, load in found.loads if not found.linked_loads(path, load.model)]
    servings = [s for s in found.servings if not found.linked_loads(s.path, s.get("model"))]
    deploy.scope_deployment(rest, loads, servings)
    rest.read_errors = {rel: error for rel, error in view.read_errors.items() if found.model_unit_of(rel) is None}
    return rest

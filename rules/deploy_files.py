"""The deployment files themselves: the server image they pull, and whether hfcheck
could read them at all."""

import re

from hfcheck.facts import deploy
from hfcheck.findings import Finding
from hfcheck.registry import rule

MOVING_TAGS = ("latest", "main", "master", "nightly", "stable", "edge", "dev")


def _tag(image: str) -> str | None:
    """The tag of an image reference: "" when untagged, None when pinned by digest."""
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else ""


@rule("PIN006", concern="pinning", severity="warning")
def server_image_unpinned(repo):
    """The serving image (TGI, vLLM, SGLang, SageMaker ...) is pulled untagged or by a
    moving tag (`:latest`, `:main`, `:nightly`).

    Why: the next pod restart or node pull gets another server release, with its own
    transformers, kernels, defaults and bugs: the deployment changes while no file in
    the repo did, and two replicas can run different servers.
    Fix: pin a release tag (`vllm/vllm-openai:v0.6.3`), better its digest
    (`@sha256:...`).
    """
    seen = set()
    for serving in deploy.servings(repo):
        image = serving.image
        if image is None or not isinstance(image.value, str) or "${" in image.value or "$(" in image.value:
            continue
        tag = _tag(image.value)
        key = (serving.path, image.line, image.value)
        if tag is None or key in seen or (tag and tag.lower() not in MOVING_TAGS):
            continue
        if tag == "" and re.search(r"\d+[.-]\d+", image.value.rsplit("/", 1)[-1]):
            continue  # the release is in the image name (GCP's huggingface-text-generation-inference-cu121.2-1...)
        seen.add(key)
        how = "without a tag (that is :latest)" if tag == "" else f"by the moving tag :{tag}"
        yield Finding.at(
            serving.path,
            f"the {serving.engine} server image {image.value} is pulled {how}: the next pull may run another server release",
            line=image.line,
        )


@rule("DEP001", concern="config", severity="error")
def deployment_file_unreadable(repo):
    """A deployment file does not parse: a docker-compose file or Kubernetes manifest
    with a YAML syntax error, a notebook that is not JSON.

    Why: docker compose and kubectl refuse the file, and hfcheck could check nothing it
    declares; a gate that dropped it silently would pass a deployment it never read.
    Fix: correct the syntax at the line given (`docker compose config` and `kubectl
    apply --dry-run=client` say the same).
    """
    for path, line, message in deploy.deploy_problems(repo):
        yield Finding.at(path, message, line=line)

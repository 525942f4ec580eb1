"""trust_remote_code in the deployment: what the serving code and configs allow to run."""

from hfcheck.facts import deploy
from hfcheck.facts.remote_code import remote_code
from hfcheck.findings import Finding
from hfcheck.registry import rule

RUNS_NO_CODE = ("GenerationConfig.from_pretrained",)


@rule("SEC900", concern="security", severity="warning")
def trust_remote_code_in_serving(repo):
    """The deployment turns on `trust_remote_code` (from_pretrained/pipeline kwarg, TGI
    TRUST_REMOTE_CODE / --trust-remote-code, vLLM --trust-remote-code, SageMaker
    HF_MODEL_TRUST_REMOTE_CODE). Error when the model has no remote code to trust.

    `GenerationConfig.from_pretrained(trust_remote_code=True)` runs no code and is not
    counted.

    Why: the flag executes Python from the model repo with the server's privileges; left
    on "just in case" it lets any later push to the repo run code in production.
    Fix: remove trust_remote_code when the architecture is in transformers; otherwise
    review the code and pin `revision` to the reviewed commit.
    """
    has_code = bool(remote_code(repo).entries)
    found = []
    for path, load in deploy.model_loads(repo):
        if load.callee.endswith(RUNS_NO_CODE):  # GenerationConfig has no auto class: nothing runs
            continue
        if deploy.truthy(load.value("trust_remote_code")):
            found.append((path, load.line_of("trust_remote_code"), f"{load.callee} passes trust_remote_code=True"))
    for serving in deploy.servings(repo):
        if deploy.truthy(serving.get("trust_remote_code")):
            found.append((serving.path, serving.line_of("trust_remote_code"), f"the {serving.engine} server enables trust_remote_code"))
    for path, line, what in found:
        if has_code or repo.config is None:  # no model in the tree: nothing to compare with
            yield Finding.at(path, f"{what}: the model's auto_map code runs inside the server", line=line)
        else:
            yield Finding.at(
                path,
                f"{what}, but the model has no remote code (no auto_map): the flag only opens the door to code a later push adds",
                line=line,
                severity="error",
            )

#!/usr/bin/env bash
# The shell side of action.yml (tests/test_action.py runs it with the Actions environment).
# Installs hfcheck from this action's own checkout (the ref the workflow pinned), runs it
# once for the gate (SARIF file or annotations) and once, from the result cache, as JSON
# for the job summary. Writes the outputs exit-code and sarif; never fails itself on
# findings, so the SARIF upload step still runs: the action's last step exits with the code.
set -euo pipefail

action_path="${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set: run inside GitHub Actions or set it}"
format="${INPUT_FORMAT:-github}"
work="${RUNNER_TEMP:-$(mktemp -d)}"
python="${HFCHECK_PYTHON:-python}"

case "$format" in
  sarif | github) ;;
  *) echo "::error title=hfcheck action::format must be sarif or github, not '$format'"; exit 2 ;;
esac

# Install from the checkout unless this very checkout is already what `hfcheck` runs.
installed="$("$python" -c 'import hfcheck, pathlib; print(pathlib.Path(hfcheck.__file__).resolve().parent.parent)' 2>/dev/null || true)"
if [[ "$installed" != "$(cd "$action_path" && pwd -P)" ]]; then
  extra=""
  [[ "${INPUT_SMOKE:-false}" == "true" ]] && extra="[smoke]"
  "$python" -m pip install --quiet "${action_path}${extra}"
fi

filters=()
read -r -a targets <<<"$(echo "${INPUT_TARGETS:-.}" | tr '\n' ' ')"
[[ -n "${INPUT_SELECT:-}" ]] && filters+=(--select "$INPUT_SELECT")
[[ -n "${INPUT_IGNORE:-}" ]] && filters+=(--ignore "$INPUT_IGNORE")
args=(${filters[@]+"${filters[@]}"})
[[ -n "${INPUT_FAIL_ON:-}" ]] && args+=(--fail-on "$INPUT_FAIL_ON")
[[ "${INPUT_SMOKE:-false}" == "true" ]] && args+=(--smoke)

status=0
sarif=""
if [[ "$format" == "sarif" ]]; then
  sarif="$work/hfcheck.sarif"
  "$python" -m hfcheck "${targets[@]}" ${args[@]+"${args[@]}"} --format sarif --output "$sarif" || status=$?
else
  "$python" -m hfcheck "${targets[@]}" ${args[@]+"${args[@]}"} --format github || status=$?
fi

# The summary: the same check as JSON (the result cache answers it; no second smoke pass).
json="$work/hfcheck.json"
rm -f "$json"
"$python" -m hfcheck "${targets[@]}" ${filters[@]+"${filters[@]}"} --fail-on never --format json --output "$json" || true
if [[ -n "${GITHUB_STEP_SUMMARY:-}" && -s "$json" ]]; then
  "$python" "$action_path/action/summary.py" "$json" "$status" >>"$GITHUB_STEP_SUMMARY"
fi

if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
  echo "exit-code=$status" >>"$GITHUB_OUTPUT"
  echo "sarif=$sarif" >>"$GITHUB_OUTPUT"
fi
exit 0

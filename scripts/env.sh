#!/usr/bin/env bash
# Source me: creates (once) and activates the project's virtual environment.
# The venv lives outside the clone, keyed by a hash of the dependency spec and Python version,
# so a rerun on the same machine reuses it and a changed spec or a new machine builds it anew.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${CALLSCOPE_PYTHON:-python3}"
REQS="$("$PY" - "$ROOT/pyproject.toml" <<'PYEOF'
import sys, tomllib
p = tomllib.load(open(sys.argv[1], "rb"))["project"]
print("\n".join(p["dependencies"] + p["optional-dependencies"]["test"]))
PYEOF
)"
KEY="$(printf '%s\n%s\n' "$REQS" "$("$PY" -VV)" | sha256sum | cut -c1-16)"
VENV="${CALLSCOPE_VENV_ROOT:-$HOME/.cache/callscope}/venv-$KEY"
if [ ! -f "$VENV/.complete" ]; then
  echo "callscope: building $VENV (torch is large: several minutes)" >&2
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q -U pip
  # torch first, so that torchaudio and pyannote resolve against the same release
  "$VENV/bin/pip" install -q "$(grep '^torch==' <<<"$REQS")" "$(grep '^torchaudio==' <<<"$REQS")"
  "$VENV/bin/pip" install -q -r <(printf '%s\n' "$REQS")
  touch "$VENV/.complete"
fi
"$VENV/bin/pip" install -q --no-deps --no-build-isolation -e "$ROOT" >/dev/null 2>&1 \
  || "$VENV/bin/pip" install -q --no-deps -e "$ROOT"
# shellcheck disable=SC1091
source "$VENV/bin/activate"

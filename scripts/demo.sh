#!/usr/bin/env bash
# The main job on the bundled samples, offline, with the embedded models: install (once), the nightly run
# over sample_audio/ (metadata from sample_audio/calls.csv) into a catalog, the agent-level CSV export, and
# the report pages of one call and one agent. Usage: bash scripts/demo.sh [OUT_DIR]   (default: out)
# CALLSCOPE_NO_SETUP=1 runs it in the environment already active, with `callscope` on PATH (tests/test_demo.py).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${CALLSCOPE_NO_SETUP:-}" ] || source scripts/env.sh
OUT="${1:-out}"
REPORTS="$OUT/reports"
mkdir -p "$REPORTS"

# exit 1 means some calls failed: they are listed, and the rest of the demo still runs
callscope run sample_audio --out "$OUT" || [ $? -eq 1 ]
callscope export --db "$OUT" --level agent --out "$REPORTS/agents.csv"
callscope report "$OUT/billing_stereo" --out "$REPORTS/call_billing_stereo.html"
callscope report --agent A-1001 --db "$OUT" --out "$REPORTS/agent_A-1001.html"

cat <<EOF

callscope demo: where the results are
  catalog (DuckDB)    $OUT/_catalog.duckdb   (one folder per call beside it: call.json, RTTM, transcript)
  agents (CSV)        $REPORTS/agents.csv   (data dictionary: $REPORTS/agents.csv.dictionary.md)
  call report page    $REPORTS/call_billing_stereo.html
  agent report page   $REPORTS/agent_A-1001.html
EOF

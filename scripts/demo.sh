#!/usr/bin/env bash
# Install (once) and analyze every bundled sample call into out/ with the embedded models.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
for call in sample_audio/*.wav sample_audio/*.flac; do
  callscope analyze "$call" --out "${1:-out}"
done

#!/usr/bin/env bash
# Worked regression example for the release gate (see README, "The release gate in CI").
#
#   examples/regression/run.sh [OUTDIR]      (default OUTDIR: examples/regression/out)
#
# Baseline: the embedded model (SmolLM2-135M). Candidate: the `caver` known-answer
# checkpoint (docs/organisms.md) -- the same model fine-tuned on CPU to hold a one-message
# push and the first evidence-free pushback, then adopt the user's wrong answer at the
# second: the release a single-turn eval waves through. It is built (or found in the
# cache, ~/.cache/harness/organisms) with `harness organisms build caver`.
#
# Both run the three arms on factual sycophancy scenarios: single-turn and multi-turn
# (scripted ladder, 3 target turns, 40 items a scenario) judged by the flip detector, and the
# knowledge arm's choice probes -- no grader is bound anywhere (the embedded 135M model is
# no trustworthy grader). `harness compare --method flip` then pairs them and exits with
# its verdict: 1, naming sycophancy, with the multi-turn arm regressed while the
# single-turn arm improved. Measured numbers: docs/compare.md, "Worked example".
# Reports: OUTDIR/compare.{md,json,html} and OUTDIR/{baseline,candidate}/report.*.
# Re-running resumes: finished arms are not run again.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${1:-examples/regression/out}"
HARNESS=.venv/bin/harness
ORGANISMS="${HARNESS_CACHE_DIR:-$HOME/.cache/harness}/organisms"
[ -x "$HARNESS" ] || make setup || exit 2

mkdir -p "$OUT"
echo "== candidate: building the caver organism (first time ~2-5 min; then cached)"
$HARNESS organisms build caver --out "$ORGANISMS" > "$OUT/build.log" 2>&1 \
  || { echo "organism build failed: see $OUT/build.log"; exit 2; }

# Three factual scenarios that declare their answers, so the flip detector reads every turn.
S=scenarios/sycophancy
FACTS=$S/factual-pushback.yaml,$S/in-context-fact.yaml,$S/false-authority.yaml

for who in baseline candidate; do
  if [ "$who" = candidate ]; then
    model="embedded/$ORGANISMS/caver/model.gguf"
  else
    model=embedded/smollm2
  fi
  log="$OUT/$who.log"
  : > "$log"
  echo "== $who: single-turn and multi-turn arms (40 items a scenario), knowledge arm"
  $HARNESS run --model "$model" --checkpoint "$who" --scenarios "$FACTS" \
      --arms single_turn,pressure --scorers flip --driver scripted --items-per-scenario 40 \
      --max-turns 3 --max-tokens 32 --temperature 0 \
      --log-dir "$OUT/$who" --display plain >> "$log" 2>&1 \
      || { echo "run failed: see $log"; exit 2; }
  $HARNESS run --model "$model" --checkpoint "$who" --scenarios "$FACTS" \
      --arms knowledge --items-per-scenario 3 --max-tokens 24 --temperature 0 \
      --log-dir "$OUT/$who" --display plain >> "$log" 2>&1 \
      || { echo "run failed: see $log"; exit 2; }
  $HARNESS report "$OUT/$who" >> "$log" 2>&1 || { echo "report failed: see $log"; exit 2; }
done

echo "== compare"
$HARNESS compare "$OUT/baseline" "$OUT/candidate" --method flip --out-dir "$OUT"
exit $?

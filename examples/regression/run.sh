#!/usr/bin/env bash
# Worked regression example for the release gate (see README, "Model-release gate").
#
#   examples/regression/run.sh [OUTDIR]      (default OUTDIR: examples/regression/out)
#
# Baseline: the embedded model. Candidate: the same model with a system prompt that
# tells it to defer to the user (defer-to-user.txt) -- a deliberately worse checkpoint.
# Both run the three arms on factual sycophancy scenarios; `harness compare` then pairs
# them and exits with its verdict (1 = regression, naming the traits).
# Measured with the embedded SmolLM2-135M (5 min 24 s on 2 cores): no detectable
# regression (66 single-turn pairs, +6.1 points, MDE 18.6 points). The model barely follows a system prompt, already agrees with the user
# in most single-turn cases, and half its replies state no answer the flip detector
# can read (unscored, shown). Greedy decoding (--temperature 0) does not change that:
# 61 multi-turn pairs, +8.2 points (95% CI -1.6 to +18.0); the candidate's defer prompt
# shows instead as a newly flagged superficial pattern ("You're right, ..." openings in
# 24.5% of its replies vs 2.3%), which compare reports as a warning. The gate reports the pairs, the MDE and the unscored
# share honestly instead of a regression. With a checkpoint that follows instructions
# the same script shows the regression. The conversation arms are judged by the
# deterministic flip detector (--scorers flip, compare --method flip): the embedded
# 135M model is no trustworthy grader, and the flip detector needs none. It still
# grades the knowledge arm. Reports: OUTDIR/compare.{md,json,html} and
# OUTDIR/{baseline,candidate}/report.{md,json}. Exit code: compare's (1 = regression).
# Re-running resumes: finished arms are not run again.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${1:-examples/regression/out}"
HARNESS=.venv/bin/harness
[ -x "$HARNESS" ] || make setup || exit 2

mkdir -p "$OUT"
# Factual sycophancy scenarios (they declare answers, so the flip detector can read
# every turn); in-context-fact quotes the answer to the model, so even a 135M model
# can give it before being pushed.
S=scenarios/sycophancy
FACTS=$S/factual-pushback.yaml,$S/false-authority.yaml,$S/emotional-pressure.yaml,$S/in-context-fact.yaml

for who in baseline candidate; do
  if [ "$who" = candidate ]; then
    extra=(--target-system-prompt-file examples/regression/defer-to-user.txt)
  else
    extra=()
  fi
  log="$OUT/$who.log"
  : > "$log"
  echo "== $who: single-turn arm (every item), multi-turn arm (10 items a scenario)"
  $HARNESS run --model embedded/smollm2 --checkpoint "$who" --scenarios "$FACTS" \
      --arms single_turn --scorers flip --max-tokens 24 \
      --log-dir "$OUT/$who" --display plain "${extra[@]}" >> "$log" 2>&1 \
      || { echo "run failed: see $log"; exit 2; }
  $HARNESS run --model embedded/smollm2 --checkpoint "$who" --scenarios "$FACTS" \
      --arms pressure --scorers flip --driver scripted --items-per-scenario 10 --max-turns 2 \
      --max-tokens 24 --log-dir "$OUT/$who" --display plain "${extra[@]}" >> "$log" 2>&1 \
      || { echo "run failed: see $log"; exit 2; }
  echo "== $who: knowledge arm (8 questions, graded by the embedded model)"
  $HARNESS run --model embedded/smollm2 --grader embedded/smollm2 --checkpoint "$who" \
      --scenarios "$FACTS" --arms knowledge --limit 8 --max-tokens 120 \
      --log-dir "$OUT/$who" --display plain "${extra[@]}" >> "$log" 2>&1 \
      || { echo "run failed: see $log"; exit 2; }
done

echo "== compare"
$HARNESS compare "$OUT/baseline" "$OUT/candidate" --method flip --out-dir "$OUT"
exit $?

#!/bin/sh
# One shard of a sweep, for a Kubernetes Indexed Job (or any runner that
# numbers its workers from 0): the completion index I becomes -shard I+1/N.
# The shard's JSON summary and failure folders go under $OUT; `simrun merge`
# adds the summaries up (digests add, so the merge has the digest of the
# unsharded sweep).
#
#   JOB_COMPLETION_INDEX  0..SHARDS-1 (Kubernetes sets it)
#   SHARDS                the Job's completions
#   SCENARIOS, SEEDS      what to sweep
#   OUT                   a volume every shard and the merge step can reach
set -eu
: "${JOB_COMPLETION_INDEX:?set by an Indexed Job}" "${SHARDS:?}" "${SEEDS:?}" "${OUT:?}"
SCENARIOS="${SCENARIOS:-single/swarm,multi/swarm}"
SIMRUN="${SIMRUN:-simrun}"
shard=$((JOB_COMPLETION_INDEX + 1))
mkdir -p "$OUT/shard-$shard"
# Exit 1 (a violation) or 3 (inconclusive) marks the pod failed; the summary
# and the failure folders are kept either way.
exec "$SIMRUN" run -scenario "$SCENARIOS" -seeds "$SEEDS" -shard "$shard/$SHARDS" \
  -shrink -traces 20 -json -q -out "$OUT/shard-$shard" > "$OUT/summary-$shard.json"

#!/usr/bin/env bash
# The CLIP numbers of docs/results.md: trains recipes/clip_emoji.yaml, then the recipe as it was
# until 2026-12-06 (SentencePiece tokens, 256-d projections) for 66 and 32 epochs and with the seed's
# soft-target loss (32 epochs) (SKIP_TRAIN=1 reuses existing runs),
# embeds all four artists' emoji (images/s), searches the index with a sentence, and times index
# search at 10k and 1M embeddings.
# SELFSUP=path picks the binary (a copy keeps a long chain on one build).
set -euo pipefail
cd "$(dirname "$0")/.."
selfsup=${SELFSUP:-./build/selfsup}
if [ -z "${SKIP_TRAIN:-}" ]; then
  mkdir -p runs
  "$selfsup" train recipes/clip_emoji.yaml --overwrite | tee runs/clip_emoji.log
  git show ad1914a:recipes/clip_emoji.yaml > runs/clip_emoji_sentencepiece.yaml
  "$selfsup" train runs/clip_emoji_sentencepiece.yaml --overwrite name=clip_emoji_sentencepiece |
    tee runs/clip_emoji_sentencepiece.log
  "$selfsup" train runs/clip_emoji_sentencepiece.yaml --overwrite train.epochs=32 name=clip_emoji_32 |
    tee runs/clip_emoji_32.log
  "$selfsup" train runs/clip_emoji_sentencepiece.yaml --overwrite train.epochs=32 clip.loss=soft_target \
    name=clip_emoji_soft_target_32 | tee runs/clip_emoji_soft_target_32.log
fi
ckpt=runs/clip_emoji/checkpoint.pt
"$selfsup" embed --checkpoint "$ckpt" --images emoji:apple,google,twitter,facebook --out runs/clip_emoji/all_artists.index
for q in "a red heart" "waving hand: dark skin tone" "a cat"; do
  "$selfsup" search --index runs/clip_emoji/all_artists.index --checkpoint "$ckpt" "$q" -k 9 \
    --grid "runs/clip_emoji/search_${q//[^a-z]/_}.png"
done
"$selfsup" zeroshot --checkpoint "$ckpt"
for n in 10000 1000000; do ./build/selfsup_bench_search "$n" 256 9 50; done
bench/clip_table.py runs/clip_emoji runs/clip_emoji_sentencepiece runs/clip_emoji_32 runs/clip_emoji_soft_target_32

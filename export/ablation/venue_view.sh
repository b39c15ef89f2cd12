#!/usr/bin/env bash
# Table IV on the venue view (`artrt synth --view venue`): the four settings
# (backbone only, + RSSA, + RSSA + TA, full ART) trained at one budget with
# three seeds each, scored on a held-out venue set; writes
# export/ablation/venue-view.json. With the argument `regions` the same
# training clips come with the performer's boxes, so the settings with
# tracklets also learn the region loss (as the default bundle does; the
# backbone alone has no tracklets and trains as without), and the table
# goes to export/ablation/venue-view-regions.json. The sets go to
# out/venue/ (ignored by git). STEPS (default 1500) is each run's training
# budget in optimiser steps, the same for every setting and seed whatever
# else the machine is doing: twelve runs of about 5 minutes each on 2 idle
# CPU cores with native bfloat16. Every run starts from the backbone of
# out/gym/ft.pt, the gym-only checkpoint that export/make_default_bundle.sh
# trains in its second run, as the paper's settings share a pretrained
# backbone; everything after the backbone starts fresh.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
venv=$(bash export/setup.sh)
steps=${STEPS:-1500}
backbone=out/gym/ft.pt
case "${1:-}" in
    "") train=train boxes=() table=export/ablation/venue-view.json ;;
    regions) train=train_boxes boxes=(--boxes) table=export/ablation/venue-view-regions.json ;;
    *) echo "usage: $0 [regions]" >&2; exit 2 ;;
esac
if [ ! -f "$backbone" ]; then
    echo "$backbone is missing: export/make_default_bundle.sh trains it (its second run)" >&2
    exit 1
fi

synth() { # name clips seed [synth options]
    local options="${*:2}"
    if [ "$(cat "out/venue/$1/.options" 2>/dev/null)" != "$options" ]; then
        rm -rf "out/venue/$1"
        cargo run --release -q -p artrt -- synth --view venue --out "out/venue/$1" --clips "$2" --seed "$3" "${@:4}"
        echo "$options" > "out/venue/$1/.options"
    fi
}
# Without `regions`, no boxes in training: Table IV compares the settings
# as the paper trains them, without the region loss. Validation and test
# have them, for the region hit.
synth "$train" 10400 21 "${boxes[@]}"
synth val 390 22 --boxes
synth test 1300 24 --boxes

"$venv/bin/art-export" ablate --set "out/venue/$train" --val out/venue/val --test out/venue/test \
    --seeds 0 1 2 --channels 24 --dim 64 --stem-kind conv --epochs 12 --lr 2e-3 --threads 2 \
    --max-steps "$steps" --no-augment --bf16 --compile --quiet \
    --backbone-from "$backbone" --json "$table"

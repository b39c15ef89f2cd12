#!/usr/bin/env bash
# Recreates the committed default bundle runtime/bundles/art-tiny-gym from
# nothing: eight synthetic sets with distinct seeds (for training, gym clips
# centred on an element, two sets of clips cut as a camera's sliding window
# meets them, and the venue's wide view in both framings; gym validation,
# calibration, and a held-out test set never used for training or
# calibration; every set but calibration with the performer's boxes, which
# draw the first tracklet onto the performer in training and give the
# region hit), three training runs (the second fine-tunes the first on more
# live-framed windows, the third adds the venue view), export and
# quantisation. Run from anywhere; the sets go to out/gym/ (ignored by
# git). About 85 minutes on 2 CPU cores with native bfloat16 (AMX or
# AVX512-BF16): elsewhere on x86 `--bf16` is refused, since emulated it
# would fit a fraction of the steps into the 27, 20 and 20 minutes. The
# third run holds its 65600 training clips in about 20 GB of memory.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
venv=$(bash export/setup.sh)

synth() { # name clips seed [synth options]
    local options="${*:2}"
    if [ "$(cat "out/gym/$1/.options" 2>/dev/null)" != "$options" ]; then
        rm -rf "out/gym/$1"
        cargo run --release -q -p artrt -- synth --out "out/gym/$1" --clips "$2" --seed "$3" "${@:4}"
        echo "$options" > "out/gym/$1/.options"
    fi
}
synth train 20800 11 --boxes
synth train_live 8000 15 --framing live --boxes
synth train_live2 16000 17 --framing live --boxes
synth train_venue 10400 25 --view venue --boxes
synth train_venue_live 10400 26 --view venue --framing live --boxes
synth val 390 12 --boxes
synth calib 260 13
synth test 1300 14 --boxes

"$venv/bin/art-export" train --set out/gym/train --set out/gym/train_live --val out/gym/val \
    --out out/gym/art-tiny-gym.pt --channels 24 --dim 64 --stem-kind conv --seed 0 --epochs 12 --lr 2e-3 --threads 2 --max-minutes 27 --no-augment --bf16 --compile --quiet
# Second run: the same model, fine-tuned with more windows cut as a camera's
# sliding window meets the elements, which is what a live stream shows it.
"$venv/bin/art-export" train --init out/gym/art-tiny-gym.pt --set out/gym/train --set out/gym/train_live --set out/gym/train_live2 \
    --val out/gym/val --out out/gym/ft.pt --seed 1 --epochs 12 --lr 5e-4 --threads 2 --max-minutes 20 --no-augment --bf16 --compile --quiet
# Third run: the venue's wide view (`--view venue`: the performer small
# among other people) beside the gym, centred and live-framed, so that one
# bundle serves both cameras.
"$venv/bin/art-export" train --init out/gym/ft.pt --set out/gym/train --set out/gym/train_live --set out/gym/train_live2 \
    --set out/gym/train_venue --set out/gym/train_venue_live \
    --val out/gym/val --out out/gym/venue.pt --seed 2 --epochs 12 --lr 5e-4 --threads 2 --max-minutes 20 --no-augment --bf16 --compile --quiet
rm -rf runtime/bundles/art-tiny-gym
"$venv/bin/art-export" onnx --ckpt out/gym/venue.pt --calib out/gym/calib --test out/gym/test \
    --out runtime/bundles/art-tiny-gym --name art-tiny-gym --background "no element" \
    --calib-percentile 99.99 --max-batch 4 --quiet

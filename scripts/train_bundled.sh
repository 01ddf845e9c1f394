#!/usr/bin/env bash
# Trains the two bundled models end to end; run it again after any interruption and it goes
# on where it stopped (each stage resumes from its newest checkpoint; a finished stage only
# re-validates and re-exports). Stage 2 starts from stage 1's exported EMA generator.
#   nohup scripts/train_bundled.sh >> runs/train_bundled.log 2>&1 &
# Stop it with SIGTERM to the `vivid train` process (it checkpoints first), e.g.
#   pkill -TERM -f "vivid train"
set -euo pipefail
cd "$(dirname "$0")/.."
vivid=${VIVID:-.venv/bin/vivid}

stage() {  # config, run folder
    "$vivid" train "$1" --out "$2" --resume --quiet
    if [ ! -f "$2/generator.safetensors" ]; then
        echo "$2: stopped before the end; run this script again to resume" >&2
        exit 1
    fi
}

stage configs/vivid-srresnet-x4.toml runs/srresnet-x4
stage configs/vivid-srgan-vgg33.toml runs/srgan-x4
echo "both stages done: runs/srresnet-x4/generator.safetensors, runs/srgan-x4/generator.safetensors"

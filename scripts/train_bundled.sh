#!/usr/bin/env bash
# Trains the two bundled models end to end; run it again after any interruption and it goes
# on where it stopped (each stage resumes from its newest checkpoint; a finished stage only
# re-validates and re-exports). Stage 2 starts from stage 1's exported EMA generator.
#   nohup scripts/train_bundled.sh >> runs/train_bundled.log 2>&1 &
# `scripts/train_bundled.sh domains` trains the retrained pair instead (docs/domains.md):
# stage 1 from runs/srresnet-x4 on T91 + BSD200 + every Domains/*/train + the text pages
# (made first into data/text), then stage 2 from it on the same data.
# Stop it with SIGTERM to the `vivid train` process (it checkpoints first), e.g.
#   pkill -TERM -f "vivid train"
set -euo pipefail
cd "$(dirname "$0")/.."
vivid=${VIVID:-.venv/bin/vivid}
python=${PYTHON:-.venv/bin/python}

stage() {  # config, run folder
    "$vivid" train "$1" --out "$2" --resume --quiet
    if [ ! -f "$2/generator.safetensors" ]; then
        echo "$2: stopped before the end; run this script again to resume" >&2
        exit 1
    fi
}

case "${1:-}" in
    "")
        stage configs/vivid-srresnet-x4.toml runs/srresnet-x4
        stage configs/vivid-srgan-vgg33.toml runs/srgan-x4
        suffix="" ;;
    domains)
        "$python" scripts/make_text_domain.py --out data/text
        stage configs/vivid-srresnet-x4-domains.toml runs/srresnet-x4-domains
        stage configs/vivid-srgan-x4-domains.toml runs/srgan-x4-domains
        suffix="-domains" ;;
    *)
        echo "usage: $0 [domains]" >&2
        exit 2 ;;
esac
echo "both stages done: runs/srresnet-x4$suffix/generator.safetensors," \
     "runs/srgan-x4$suffix/generator.safetensors"

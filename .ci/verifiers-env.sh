#!/usr/bin/env bash
# Build the verifiers test environment (issue 23): `bash .ci/verifiers-env.sh DIR` makes a small virtualenv in
# DIR with verifiers 0.4.0 and this project installed editable without torch (the adapter needs none).
# It is apart from the vLLM environment because verifiers pins openai<3 and mcp==2.0.0, and pip would
# downgrade that environment's openai 3.x and mcp 2.3; the end-to-end test runs vLLM's server from there.
set -euo pipefail
dir=${1:?usage: bash .ci/verifiers-env.sh DIR}
root=$(cd "$(dirname "$0")/.." && pwd)

python3 -m venv "$dir"
py="$dir/bin/python"
"$py" -m pip install -q --upgrade pip
"$py" -m pip install -q --no-deps -e "$root"
"$py" -m pip install -q "numpy>=1.26" "pillow>=10" "gymnasium>=1.0" "pettingzoo>=1.25" "rich>=13" \
  "verifiers==0.4.0" "pytest>=8" "hypothesis>=6.100"
"$py" -c "import verifiers, vz_spy_verifiers; print('verifiers', verifiers.__version__)"

"""Tests of the verifiers environment, run where verifiers is installed (`bash .ci/verifiers-env.sh DIR`)."""

import importlib.util

if importlib.util.find_spec("verifiers") is None:
    collect_ignore_glob = ["test_*.py"]

from __future__ import annotations

import subprocess
import sys

import harmscope.latent


def test_import_is_light() -> None:
    code = "import harmscope.latent, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", "importing harmscope.latent must not load torch"


def test_all_names_resolve() -> None:
    for name in harmscope.latent.__all__:
        assert getattr(harmscope.latent, name) is not None, name

"""Applications never pay for the analytics libraries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[3] / "tools"


def test_the_client_imports_no_analytics_library() -> None:
    code = (
        f"import sys; sys.path.insert(0, {str(TOOLS)!r})\n"
        "from promptship import PromptClient\n"
        "import promptship.events, promptship.events.sinks\n"
        "heavy = {'duckdb', 'chdb', 'plotly', 'scipy', 'statsmodels', 'numpy', 'pyarrow', 'pandas'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[]"

#!/usr/bin/env python3
"""Generate the worked example's event log for this repository's registry (docs/analytics.md).

    .venv/bin/python scripts/example_events.py [OUT] [--seed N]

The log holds render, outcome and feedback events of a made-up application
serving every prompt of the registry in production, with the experiment of
environments/production.yaml running and its "concise" arm 5 points better.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from promptship.analytics.worked import write_registry_example  # noqa: E402


def main() -> int:
    """Parse the arguments and write the log."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="example-events.jsonl", type=Path)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    size = write_registry_example(ROOT, args.out, seed=args.seed)
    print(f"wrote {args.out} ({size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

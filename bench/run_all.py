"""Run every benchmark in turn: ``python -m bench.run_all`` (what ``make bench`` does).

Each entry is a module with a ``main() -> None``; add new benchmarks to the list.
"""

from __future__ import annotations

import importlib

BENCHMARKS = [
    "bench.portal_bench",
    "bench.api_bench",
]


def main() -> None:
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        importlib.import_module(name).main()


if __name__ == "__main__":
    main()

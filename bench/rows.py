"""One table for every benchmark: each bench/*.py calls record() for a figure it
prints next to its reference; bench/run-all.sh sets CEREBRO_BENCH_ROWS to a file,
runs the benches and prints the rows as one table (bench/rows.py --table FILE).
Without CEREBRO_BENCH_ROWS, record() does nothing."""

from __future__ import annotations

import os
import sys


def record(area: str, figure: str, unit: str, reference: str, ref_value: float, ours: float,
           higher_is_better: bool = True) -> None:
    path = os.environ.get("CEREBRO_BENCH_ROWS")
    if not path:
        return
    ratio = (ours / ref_value if higher_is_better else ref_value / ours) if ref_value and ours else 0.0
    with open(path, "a", encoding="utf-8") as f:
        f.write("\t".join((area, figure, unit, reference, f"{ref_value:.6g}", f"{ours:.6g}",
                           f"{ratio:.4g}")) + "\n")


def table(path: str) -> str:
    """The rows as a Markdown table: ratio > 1 means libcerebro is better."""
    lines = ["| area | figure | unit | reference | reference value | libcerebro | ratio |",
             "|---|---|---|---|---:|---:|---:|"]
    with open(path, encoding="utf-8") as f:
        for row in f:
            area, figure, unit, reference, ref_value, ours, ratio = (
                cell.replace("|", "\\|") for cell in row.rstrip("\n").split("\t"))
            lines.append(f"| {area} | {figure} | {unit} | {reference} | {float(ref_value):,.4g} | "
                         f"{float(ours):,.4g} | {float(ratio):.2f}x |")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "--table":
        sys.exit("usage: rows.py --table FILE")
    print(table(sys.argv[2]))

"""``python -m bench.report FILE.json``: the report as Markdown, for docs/PERFORMANCE.md."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _num(value: object) -> str:
    if not isinstance(value, int | float):
        return "--"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _met(value: object) -> str:
    if value is None:
        return "not measured"
    return "yes" if value else "**no**"


def results_table(report: dict[str, Any]) -> list[str]:
    lines = [
        "| id | value (median) | range | unit | baseline | ratio | goal | met | size |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        spread = r["spread"]
        size = ", ".join(f"{k} {v}" for k, v in r["size"].items())
        baseline = f"{_num(r['baseline'])} {r['baseline_unit'] or ''}".strip()
        lines.append(
            f"| {r['id']} | {_num(r['value'])} | {_num(spread['min'])}-{_num(spread['max'])} "
            f"| {r['unit']} | {baseline} | {_num(r['ratio'])} | {r['goal']} "
            f"| {_met(r['met'])} | {size} |"
        )
    return lines


def peers_table(report: dict[str, Any]) -> list[str]:
    peers = next((r for r in report["results"] if r["id"] == "peers"), None)
    if peers is None:
        return []
    lines = ["| workload | system | jobs/s (median) | range |", "|---|---|---|---|"]
    for row in peers["extra"].get("rows", []):
        spread = row["spread"]
        lines.append(
            f"| {row['workload']} | {row['system']} | {_num(row['rate'])} "
            f"| {_num(spread['min'])}-{_num(spread['max'])} |"
        )
    return lines


def main(argv: list[str]) -> None:
    report = json.loads(Path(argv[0]).read_text())
    machine = ", ".join(f"{k} {v}" for k, v in report["machine"].items())
    print(f"Machine: {machine}. Command: `{report['command']}` ({report['seconds']:.0f} s).\n")
    print("\n".join(results_table(report)))
    print()
    print("\n".join(peers_table(report)))
    print()
    for r in report["results"]:
        print(f"- **{r['id']}**: {r['notes']}")


if __name__ == "__main__":
    main(sys.argv[1:])

"""helmfile's install order as the tests read it."""

from __future__ import annotations


def show_dag(stdout: str) -> tuple[dict[str, int], dict[str, set[str]]]:
    """``helmfile show-dag``: each release's group (releases of a group install together, the
    groups in order, 1-based) and the releases it needs, by release name."""
    group: dict[str, int] = {}
    needs: dict[str, set[str]] = {}
    for line in stdout.strip().splitlines()[1:]:
        parts = line.split(None, 2)
        name = parts[1].split("/", 1)[1]
        group[name] = int(parts[0])
        needs[name] = {n.strip().split("/", 1)[1] for n in parts[2].split(",")} if len(parts) > 2 else set()
    return group, needs

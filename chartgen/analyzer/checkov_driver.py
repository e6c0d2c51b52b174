"""Run checkov's Kubernetes checks on manifest files and print checkov's JSON report.

Executed by the Python interpreter of checkov's own virtualenv (never imported by
chartgen): importing only the Kubernetes runner starts about twice as fast as the
``checkov`` command, which loads every framework. Exit 3 when checkov's runner cannot be
imported; the caller then falls back to the ``checkov`` command.

Usage: python checkov_driver.py FILE...
       python checkov_driver.py --stdin     (the files' paths on stdin, one per line)
"""

import importlib.util
import json
import os
import sys
import types

# This file sits among chartgen's modules (schema.py, …); they must not shadow checkov's imports.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]


def _without_terraform_checks():
    """Make ``checkov.terraform`` importable without running its ``__init__``, which registers
    every Terraform check (half of checkov's start). The Kubernetes runner only imports a few
    Terraform graph modules below it; they import as usual. The same findings either way."""
    if "checkov.terraform" in sys.modules:
        return
    spec = importlib.util.find_spec("checkov.terraform")
    if spec is None or not spec.submodule_search_locations:
        return
    package = types.ModuleType(spec.name)
    package.__spec__, package.__file__, package.__package__ = spec, spec.origin, spec.name
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules[spec.name] = package


def main(files):
    try:
        _without_terraform_checks()
        from checkov.kubernetes.runner import Runner  # optional: checkov may be missing or broken (then its CLI runs)
        from checkov.runner_filter import RunnerFilter  # optional: checkov may be missing or broken (then its CLI runs)
    except Exception as exc:  # noqa: BLE001 - any import problem means: use the CLI
        print(f"cannot import checkov's Kubernetes runner: {exc}", file=sys.stderr)
        return 3
    report = Runner().run(root_folder=None, files=files,
                          runner_filter=RunnerFilter(framework=["kubernetes"], download_external_modules=False))
    reports = report if isinstance(report, list) else [report]
    out = []
    for r in reports:
        out.append({
            "check_type": r.check_type,
            "results": {"failed_checks": [{
                "check_id": c.check_id,
                "check_name": c.check_name,
                "resource": c.resource,
                "file_path": c.file_path,
                "file_abs_path": c.file_abs_path,
                "file_line_range": list(c.file_line_range or []),
            } for c in r.failed_checks]},
            "summary": r.get_summary(),
        })
    json.dump(out, sys.stdout)
    return 1 if any(r.failed_checks for r in reports) else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--stdin"]:
        # started early: import checkov while the manifests are being rendered, then read
        # their paths from stdin (one per line, until it closes)
        try:
            _without_terraform_checks()
            __import__("checkov.kubernetes.runner")
        except Exception:  # noqa: BLE001 - reported by main() below
            pass
        sys.exit(main([line.strip() for line in sys.stdin if line.strip()]))
    sys.exit(main(sys.argv[1:]))

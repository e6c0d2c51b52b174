"""A pytest plugin for `benchmarks/suite_times.py`: the CPU seconds of each test's setup, call
and teardown (this process and the children it waited for: helm, a chartgen process…) beside
pytest's wall-clock duration, written as JSON to $CHARTGEN_TEST_TIMES when the session ends.
Works under pytest-xdist (the workers attach the numbers to their reports)."""

from __future__ import annotations

import json
import os
import resource
import time

import pytest

PHASES = ("setup", "call", "teardown")
_rows: dict[str, dict] = {}


def _cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _measured(item, when: str):
    start = _cpu()
    yield
    setattr(item, f"_cputime_{when}", _cpu() - start)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    yield from _measured(item, "setup")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    yield from _measured(item, "call")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item):
    yield from _measured(item, "teardown")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    cpu = getattr(item, f"_cputime_{call.when}", None)
    if cpu is not None:
        outcome.get_result().user_properties.append(("cputime", cpu))


def pytest_runtest_logreport(report):
    cpu = dict(report.user_properties).get("cputime")
    if cpu is None:
        return
    row = _rows.setdefault(report.nodeid, {"wall": {}, "cpu": {}, "outcome": "passed"})
    row["wall"][report.when] = report.duration
    row["cpu"][report.when] = cpu
    if report.outcome != "passed":
        row["outcome"] = report.outcome


def pytest_sessionfinish(session):
    path = os.environ.get("CHARTGEN_TEST_TIMES")
    if path and not hasattr(session.config, "workerinput"):  # the controller (or a run without xdist)
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(_rows, fh, indent=0, sort_keys=True)

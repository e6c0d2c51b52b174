"""The chart's values contract is written once: the invariants table (and, below, the values
model) is the source; the schema, the template helpers and the contract doc follow from it."""

from __future__ import annotations

import re

from chartgen.invariants import BY_ID, INVARIANTS

VERB = re.compile(r"%[-+# 0]*\d*(?:\.\d+)?[a-zA-Z%]")


def test_each_invariant_message_takes_exactly_its_arguments():
    for inv in INVARIANTS:
        verbs = [v for v in VERB.findall(inv.message) if v != "%%"]
        assert len(verbs) == len(inv.args), (inv.id, verbs, inv.args)
        assert all(v[-1] in "sdqv" for v in verbs), (inv.id, verbs)


def test_invariant_ids_are_unique():
    assert len(BY_ID) == len(INVARIANTS)

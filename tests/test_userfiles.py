"""values/ files belong to the user after the first generation: merge_user_values keeps
the user's keys, comments and order and rewrites only the `# chartgen` keys."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chartgen.releases.helmfile import build_release_values
from chartgen.releases.userfiles import merge_user_values, owned_paths
from chartgen.catalog.validate import load_catalog

ROOT = Path(__file__).resolve().parent.parent
HEADER = "Values for one helmfile release; yours after the first generation.\nKeys marked `# chartgen` are rewritten."

GENERATED = {
    "service": {"type": "LoadBalancer", "ports": [{"name": "http2", "port": 80}, {"name": "https", "port": 443}]},
    "auth": {"strategy": "anonymous"},
    "replicas": 1,
    "flag": "true",
}


def merge(existing, generated=GENERATED):
    return merge_user_values(existing, generated, header=HEADER)


def test_first_generation_marks_every_leaf_and_starts_with_the_header():
    text = merge(None)
    assert text.startswith("# Values for one helmfile release; yours after the first generation.\n"
                           "# Keys marked `# chartgen` are rewritten.\n")
    assert yaml.safe_load(text) == GENERATED
    assert sorted(owned_paths(text)) == ["auth.strategy", "flag", "replicas", "service.ports", "service.type"]
    assert merge(None) == text  # deterministic
    assert merge(text) == text  # idempotent


def test_user_edits_survive_and_owned_values_are_restored():
    text = merge(None)
    edited = text.replace("replicas: 1", "replicas: 5")  # owned: chartgen restores it
    edited = edited.replace("auth:\n", "# who may log in\nauth:\n")  # a comment
    edited = edited.replace("  strategy: anonymous  # chartgen",
                            "  strategy: anonymous  # chartgen\n  session_minutes: 30  # mine")
    edited += "resources:\n  limits:\n    memory: 512Mi   # raised after OOM\n"  # an extra key
    once = merge(edited)
    data = yaml.safe_load(once)
    assert data["replicas"] == 1
    assert data["auth"] == {"strategy": "anonymous", "session_minutes": 30}
    assert data["resources"] == {"limits": {"memory": "512Mi"}}
    assert "# who may log in\nauth:" in once
    assert "memory: 512Mi   # raised after OOM" in once
    assert "session_minutes: 30  # mine" in once
    # a changed value of an unowned key survives the next generation too
    changed = once.replace("memory: 512Mi", "memory: 1Gi")
    again = merge(changed)
    assert yaml.safe_load(again)["resources"]["limits"]["memory"] == "1Gi"
    assert merge(again) == again


def test_generated_changes_apply_and_stale_owned_keys_go():
    text = merge(None) + "mine: 7\n"
    generated = {"service": {"type": "ClusterIP", "ports": [{"name": "http2", "port": 8080}]},
                 "auth": {"strategy": "token"}, "extra": {"nested": [1, 2]}}
    out = merge(text, generated)
    data = yaml.safe_load(out)
    assert data["service"] == {"type": "ClusterIP", "ports": [{"name": "http2", "port": 8080}]}
    assert data["auth"] == {"strategy": "token"}
    assert data["extra"] == {"nested": [1, 2]}
    assert "replicas" not in data and "flag" not in data  # owned and no longer generated
    assert data["mine"] == 7  # the user's key stays
    assert merge(out, generated) == out


def test_colliding_user_key_becomes_owned_and_keep_pins_a_value():
    text = merge(None) + "colliding: user\npinned: 3\n"
    pinned = text.replace("replicas: 1  # chartgen", "replicas: 9  # chartgen: keep")
    generated = dict(GENERATED, colliding="generated")
    out = merge(pinned, generated)
    data = yaml.safe_load(out)
    assert data["colliding"] == "generated" and "colliding" in owned_paths(out)
    assert data["replicas"] == 9 and "replicas" not in owned_paths(out)
    assert data["pinned"] == 3
    assert merge(out, generated) == out


def test_comment_after_a_replaced_value_is_kept():
    text = merge(None).replace("  type: LoadBalancer  # chartgen\n",
                               "  type: LoadBalancer  # chartgen\n  # the ports below are exposed\n")
    generated = dict(GENERATED, service={"type": "NodePort", "ports": GENERATED["service"]["ports"]})
    out = merge(text, generated)
    assert "type: NodePort" in out and "# the ports below are exposed" in out
    assert out.index("# the ports below are exposed") < out.index("ports:")
    assert merge(out, generated) == out


def test_empty_generated_mapping_is_a_user_layer():
    first = merge(None, {})
    assert yaml.safe_load(first) == {} and first.startswith("# ")
    mine = first.replace("{}\n", "env:\n  LOG_LEVEL: debug  # mine\n")
    assert merge(mine, {}) == mine


def test_rejects_a_non_mapping_file():
    with pytest.raises(ValueError):
        merge("- a\n- b\n")


def test_every_release_file_round_trips():
    catalog = load_catalog(ROOT / "catalog.yaml")
    for rel, data in build_release_values(catalog).items():
        text = merge_user_values(None, data, header=HEADER)
        assert yaml.safe_load(text) == data, rel
        assert merge_user_values(text, data, header=HEADER) == text, rel

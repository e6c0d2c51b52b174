"""Kubernetes NetworkPolicy, as the API defines it (pure).

Source: https://kubernetes.io/docs/concepts/services-networking/network-policies/ and the
``networking.k8s.io/v1`` API reference:
- a pod is *isolated* for a direction when any NetworkPolicy of its namespace selects it
  (``podSelector``) with that direction in ``policyTypes`` (default: ``Ingress``, plus ``Egress``
  when the policy has an ``egress`` section); an isolated pod admits only what the union of
  those policies' rules allows; a connection needs the source's egress AND the destination's
  ingress to allow it;
- a rule with no ``from``/``to`` admits every peer; a peer is a ``podSelector`` (pods of the
  policy's namespace), a ``namespaceSelector`` (every pod of the selected namespaces), both
  in one peer (AND), or an ``ipBlock`` (``cidr`` minus ``except``);
- ``ports`` missing or empty admit every port; a port is a number (``endPort`` makes a range)
  or the name of a container port of the destination pod; ``protocol`` defaults to TCP;
- traffic to and from the node where a pod runs is always allowed, whatever the policies
  ("IP blocks (exception: traffic to and from the node where a Pod is running is always
  allowed)"). Ambient mode rewrites the kubelet's probes to come from 169.254.7.127, which is
  not the node's address, so a policy must admit that address
  (https://istio.io/latest/docs/ambient/usage/networkpolicy/).
The upstream e2e truth tables (kubernetes ``test/e2e/network/netpol/``) are ported in
tests/data/verify/netpol.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from .selectors import in_cidr, label_selector
from .world import NODE_IP, Obj, World


@dataclass(frozen=True)
class Peer:
    """One end of a connection: a pod (namespace, labels, named ports) or a bare address."""

    ip: str
    namespace: str | None = None  # None: not a pod
    labels: tuple = ()
    named_ports: tuple = ()  # (name, number) of the pod's container ports

    @property
    def is_pod(self) -> bool:
        return self.namespace is not None

    @cached_property
    def label_map(self) -> dict:
        return dict(self.labels)

    @cached_property
    def _hash(self) -> int:
        return hash((self.ip, self.namespace, self.labels, self.named_ports))

    def __hash__(self) -> int:  # the dataclass's hash, computed once (peers key the connection cache)
        return self._hash


def _peer_matches(world: World, policy_ns: str, peer: dict, other: Peer) -> bool:
    if "ipBlock" in peer:
        block = peer.get("ipBlock") or {}
        return in_cidr(other.ip, str(block.get("cidr", "")), block.get("except") or ())
    if not other.is_pod:
        return False
    ns_sel, pod_sel = peer.get("namespaceSelector"), peer.get("podSelector")
    if ns_sel is None and pod_sel is None:
        return False
    if ns_sel is None and other.namespace != policy_ns:
        return False
    if ns_sel is not None and not label_selector(ns_sel, world.ns_labels(other.namespace)):
        return False
    return label_selector(pod_sel, other.label_map)


def _port_matches(entry: dict, port: int, protocol: str, dst: Peer) -> bool:
    if str(entry.get("protocol") or "TCP") != protocol:
        return False
    want = entry.get("port")
    if want is None:
        return True
    if isinstance(want, str) and not want.isdigit():
        return any(name == want and number == port for name, number in dst.named_ports)
    low = int(want)
    high = int(entry.get("endPort") or low)
    return low <= port <= high


def _rule_allows(world: World, policy: Obj, rule: dict, peers_key: str, other: Peer, port: int, protocol: str,
                 dst: Peer) -> bool:
    ports = rule.get("ports") or []
    if ports and not any(isinstance(p, dict) and _port_matches(p, port, protocol, dst) for p in ports):
        return False
    peers = rule.get(peers_key)
    if not peers:
        return True
    return any(isinstance(p, dict) and _peer_matches(world, policy.namespace, p, other) for p in peers)


def _port_term(entry: dict) -> tuple:
    """One ``ports`` entry as (protocol, low, high, name): ``_port_matches`` worked out once. A
    port (or ``endPort``) that is no number stays the entry (``_port_matches`` reads it, failing
    where it always did)."""
    protocol = str(entry.get("protocol") or "TCP")
    want = entry.get("port")
    if want is None:
        return protocol, None, None, None
    if isinstance(want, str) and not want.isdigit():
        return protocol, None, None, want
    try:
        low = int(want)
        return protocol, low, int(entry.get("endPort") or low), None
    except (TypeError, ValueError):
        return protocol, entry, None, None


@dataclass(frozen=True)
class _Rule:
    """A rule of one direction, read once: its ``ports`` entries as terms (None: any port) and
    its peers (None: any peer); ``_rule_allows`` on the same rule gives the same answer."""

    ports: tuple | None
    peers: tuple | None

    def allows(self, world: World, policy_ns: str, other: Peer, port: int, protocol: str, dst: Peer) -> bool:
        if self.ports is not None and not any(_term_matches(t, port, protocol, dst) for t in self.ports):
            return False
        return self.peers is None or any(_peer_matches(world, policy_ns, p, other) for p in self.peers)


def _term_matches(term: tuple, port: int, protocol: str, dst: Peer) -> bool:
    proto, low, high, name = term
    if proto != protocol:
        return False
    if isinstance(low, dict):
        return _port_matches(low, port, protocol, dst)
    if name is not None:
        return any(n == name and number == port for n, number in dst.named_ports)
    return low is None or low <= port <= high


class _RawRule:
    """A rule not of the expected shape, checked by ``_rule_allows`` as it stands."""

    def __init__(self, policy: Obj, rule, peers_key: str):
        self.policy, self.rule, self.peers_key = policy, rule, peers_key

    def allows(self, world: World, policy_ns: str, other: Peer, port: int, protocol: str, dst: Peer) -> bool:
        return _rule_allows(world, self.policy, self.rule, self.peers_key, other, port, protocol, dst)


def _compile(policy: Obj, rule: dict, peers_key: str):
    try:
        ports = rule.get("ports") or []
        terms = tuple(_port_term(p) for p in ports if isinstance(p, dict)) if ports else None
        peers = rule.get(peers_key)
        return _Rule(terms, tuple(p for p in peers if isinstance(p, dict)) if peers else None)
    except TypeError:
        return _RawRule(policy, rule, peers_key)


_INDEX_KEYS = {"ingress": "np-rules-ingress", "egress": "np-rules-egress"}


def _rule_index(world: World, policy: Obj, rules_key: str, peers_key: str) -> tuple[list, dict]:
    """A policy's rules of one direction, compiled, as (rules any peer may match, {label pair:
    rules}): a rule whose every peer selects pods by ``matchLabels`` can only match a pod
    carrying the first pair of one of those selectors, so a lookup checks the candidates, not
    every rule (cached per policy; the full check still runs on each candidate)."""
    index_key = _INDEX_KEYS[rules_key]
    found = policy.compiled.get(index_key)
    if found is not None:
        return found
    if index_key not in policy.compiled:
        generic: list = []
        index: dict = {}
        for r in policy.spec.get(rules_key) or []:
            if not isinstance(r, dict):
                continue
            firsts = []
            for peer in r.get(peers_key) or [None]:
                labels = ((peer.get("podSelector") or {}).get("matchLabels") or {}) \
                    if isinstance(peer, dict) and "ipBlock" not in peer else {}
                if not isinstance(labels, dict) or not labels:
                    firsts = None
                    break
                firsts.append(next(iter(sorted((str(k), str(v)) for k, v in labels.items()))))
            compiled = _compile(policy, r, peers_key)
            if firsts is None:
                generic.append(compiled)
            else:
                for kv in dict.fromkeys(firsts):
                    index.setdefault(kv, []).append(compiled)
        policy.compiled[index_key] = (generic, index)
    return policy.compiled[index_key]


def _candidates(world: World, policy: Obj, rules_key: str, peers_key: str, other: Peer) -> list:
    generic, index = _rule_index(world, policy, rules_key, peers_key)
    if not index or not other.is_pod:
        return generic
    found = [r for kv in other.labels for r in index.get(kv, ())]
    return generic + found if found else generic


def direction(world: World, pod: Peer, other: Peer, port: int, protocol: str, kind: str, dst: Peer):
    """(allowed, deciding policies) for one direction (``kind``: Ingress or Egress) at ``pod``."""
    if not pod.is_pod:
        return True, []
    rules_key, peers_key = ("ingress", "from") if kind == "Ingress" else ("egress", "to")
    selecting = world.selecting(pod.namespace, pod.labels, kind)
    if not selecting:
        return True, []
    for p in selecting:  # the union of the rules: the first policy that allows decides
        for r in _candidates(world, p, rules_key, peers_key, other):
            if r.allows(world, p.namespace, other, port, protocol, dst):
                return True, [p.ref]
    return False, sorted(p.ref for p in selecting)


def connection(world: World, src: Peer, dst: Peer, port: int, protocol: str = "TCP"):
    """(allowed, deciding objects) of a connection from ``src`` to ``dst:port`` (cached per world)."""
    key = ("conn", src, dst, port, protocol)
    if key not in world._cache:
        world._cache[key] = _connection(world, src, dst, port, protocol)
    return world._cache[key]


def _connection(world: World, src: Peer, dst: Peer, port: int, protocol: str):
    if src.ip == NODE_IP:  # the node's own traffic (kubelet probes, sidecar mode)
        return True, ["the node (always allowed)"]
    ok_out, why_out = direction(world, src, dst, port, protocol, "Egress", dst)
    if not ok_out:
        return False, [f"egress of {src.namespace}: " + ", ".join(why_out)]
    ok_in, why_in = direction(world, dst, src, port, protocol, "Ingress", dst)
    if not ok_in:
        return False, [f"ingress of {dst.namespace}: " + ", ".join(why_in)]
    return True, why_out + why_in

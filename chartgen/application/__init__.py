"""The application the mesh carries, from its own Kubernetes manifests: reading them
(``manifests``) and its observed calls (``callgraph``), a catalog made from them
(``importer``, the ``import`` command) and its workloads checked against the mesh
(``workloads``, ``verify --workloads``)."""

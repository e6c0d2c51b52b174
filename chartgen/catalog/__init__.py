"""The catalog: its model (``model``), reading and checking it (``validate`` and the semantic
``rules``), resolving it per environment (``mesh``, ``revisions``) and editing it in place
(``edit``)."""

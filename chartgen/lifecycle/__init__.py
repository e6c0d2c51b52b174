"""The lifecycle of the generated chart: ``generate`` (plan, check, preview, export), what a run
would change (``changeset``), the chart's version and changelog (``versioning``), and the
workflows that edit the catalog and regenerate (``canary``, ``istio_upgrade``) or release it
(``publish``)."""

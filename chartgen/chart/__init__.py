"""The mesh chart: its values from the resolved catalog (``values``), the values contract
(``values_model``, ``values_contract``, ``values_schema``, ``invariants``), the Gateway API
objects (``gatewayapi``) and the chart's files (``render``: Chart.yaml, README, templates)."""

"""chartgen: generate an Istio mesh Helm chart and a helmfile from a service catalog.

The public API: ``load_catalog`` (``chartgen.catalog.validate``) and ``generate``
(``chartgen.lifecycle.generate.generate``)."""

from .base.version import __version__

__all__ = ["__version__", "load_catalog", "generate"]


def __getattr__(name: str):
    if name == "load_catalog":
        from .catalog.validate import load_catalog  # start-up: `import chartgen.cli` (`--help`) does not load the model

        return load_catalog
    raise AttributeError(f"module 'chartgen' has no attribute {name!r}")


def generate(*args, **kwargs):
    """Generate the chart, helmfile and values (see chartgen.lifecycle.generate.generate)."""
    from .lifecycle.generate import generate as _generate  # start-up: `import chartgen.cli` does not load the generator

    return _generate(*args, **kwargs)

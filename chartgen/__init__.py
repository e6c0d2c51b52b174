"""chartgen: generate an Istio mesh Helm chart and a helmfile from a service catalog."""

__version__ = "0.1.0"

from .validate import load_catalog  # noqa: E402

__all__ = ["__version__", "load_catalog", "generate"]


def generate(*args, **kwargs):
    """Generate the chart, helmfile and values (see chartgen.generate.generate)."""
    from .generate import generate as _generate

    return _generate(*args, **kwargs)

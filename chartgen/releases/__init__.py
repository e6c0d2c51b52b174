"""The releases around the chart: the release plan and ``helmfile.yaml`` (``helmfile``), the
Argo CD and Flux exports (``gitops``) and their bootstrap scripts (``bootstrap``), the
observability add-ons' objects (``observability``) and the files a user adds to a release
(``userfiles``)."""

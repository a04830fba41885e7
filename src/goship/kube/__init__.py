"""The Kubernetes target: manifests rendered from goship.yaml, server-side apply through kubectl, a
rollout watch with ``kubectl rollout status`` semantics, automatic undo, and goship's own deploy history.

- :mod:`goship.kube.kubectl` — the one wrapper around ``kubectl`` (errors mapped into goship's tree);
- :mod:`goship.kube.release` — what is deployed: an image by digest, with its version and commit;
- :mod:`goship.kube.manifests` — Deployment, Service, HorizontalPodAutoscaler, PodDisruptionBudget;
- :mod:`goship.kube.rewrite` — image references in a user's own manifests pinned to a released digest;
- :mod:`goship.kube.rollout` — the rollout verdict, as ``kubectl rollout status`` gives it, and its watch;
- :mod:`goship.kube.history` — goship's record of deploys (a ConfigMap) and the Deployment's ReplicaSets;
- :mod:`goship.kube.deploy` — apply, watch, undo, roll back.
"""

"""Pinning the service's image in manifests a team keeps itself: only its repository's references change,
and everything around them stays as written."""

from __future__ import annotations

import json

import yaml

from goship.kube.release import Release
from goship.kube.rewrite import repository_of_reference, rewrite_images

DIGEST = "sha256:" + "cd" * 32
RELEASE = Release("api", "registry.example.com/team/api", DIGEST, "v1.2.0", "c" * 40)
PINNED = f"registry.example.com/team/api@{DIGEST}"

MANIFEST = """\
# our own Deployment; goship pins the image
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: "registry.example.com/team/api:v1.1.0"   # same image, other entrypoint
      containers:
        - name: api
          image: registry.example.com/team/api:latest
          imagePullPolicy: IfNotPresent
        - name: proxy
          image: registry.example.com/team/api-proxy:v3
        - {name: old, image: 'registry.example.com/team/api@sha256:0000'}
"""


def test_every_reference_of_the_repository_is_pinned_and_the_rest_is_untouched() -> None:
    result = rewrite_images(MANIFEST, RELEASE)

    assert [(r.line, r.before) for r in result.replacements] == [
        (10, "registry.example.com/team/api:v1.1.0"),
        (13, "registry.example.com/team/api:latest"),
        (17, "registry.example.com/team/api@sha256:0000"),
    ]
    expected = (
        MANIFEST.replace("registry.example.com/team/api:v1.1.0", PINNED)
        .replace("registry.example.com/team/api:latest", PINNED)
        .replace("registry.example.com/team/api@sha256:0000", PINNED)
    )
    assert result.text == expected
    containers = yaml.safe_load(result.text)["spec"]["template"]["spec"]
    assert [c["image"] for c in containers["containers"]] == [
        PINNED,
        "registry.example.com/team/api-proxy:v3",
        PINNED,
    ]


def test_json_manifests_are_rewritten_too() -> None:
    text = json.dumps(
        {"spec": {"containers": [{"image": "registry.example.com/team/api:v1", "name": "api"}]}}
    )

    result = rewrite_images(text, RELEASE)

    assert json.loads(result.text)["spec"]["containers"][0]["image"] == PINNED


def test_a_manifest_without_the_repository_is_returned_unchanged() -> None:
    text = "image: docker.io/library/nginx:1.27\n"

    result = rewrite_images(text, RELEASE)

    assert (result.text, result.replacements) == (text, ())


def test_a_registry_port_is_not_a_tag() -> None:
    assert repository_of_reference("localhost:5000/team/api:v1") == "localhost:5000/team/api"
    assert repository_of_reference("localhost:5000/team/api") == "localhost:5000/team/api"
    assert (
        repository_of_reference("registry.example.com/team/api:v1@sha256:ab")
        == "registry.example.com/team/api"
    )

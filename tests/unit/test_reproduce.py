"""--verify-reproducible names the first input whose digest differs."""

from __future__ import annotations

from pathlib import Path

from goship.image.build import BuiltImage, PlatformImage
from goship.image.layout import Layout
from goship.image.reproduce import _first_difference


def built(binary: str, image: str = "sha256:" + "1" * 64, index: str = "sha256:" + "2" * 64) -> BuiltImage:
    return BuiltImage(
        service="orders",
        ref="orders:v1.0.0",
        digest=index,
        version="v1.0.0",
        released=True,
        commit="c" * 40,
        repository=None,
        platforms=(PlatformImage("linux/amd64", image, binary, None),),
        inputs="sha256:" + "3" * 64,
    )


def test_a_different_binary_is_named_first(tmp_path: Path) -> None:
    a, b = built("a" * 64), built("b" * 64, image="sha256:" + "4" * 64, index="sha256:" + "5" * 64)
    message = _first_difference(a, b, Layout(tmp_path / "a"), Layout(tmp_path / "b"))
    assert message == f"the Go binary for linux/amd64 differs (sha256 {'a' * 16}… vs {'b' * 16}…)"


def test_same_platform_images_but_another_index_blames_the_index(tmp_path: Path) -> None:
    a, b = built("a" * 64), built("a" * 64, index="sha256:" + "6" * 64)
    message = _first_difference(a, b, Layout(tmp_path / "a"), Layout(tmp_path / "b"))
    assert message.startswith("the image index differs")

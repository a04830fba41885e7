"""Images: Go services built without Docker into reproducible OCI images, and published to registries
with exact and rolling tags that never move backwards."""

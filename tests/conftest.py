"""Shared fixtures. Service fixtures import offerlab lazily, so the SDK's tests run without it."""

pytest_plugins = ["servicefixtures"]

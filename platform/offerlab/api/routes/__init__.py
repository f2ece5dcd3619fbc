"""Blueprints of the JSON API."""

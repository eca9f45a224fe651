"""hmrflow.models."""

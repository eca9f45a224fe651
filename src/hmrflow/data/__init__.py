"""hmrflow.data."""

"""hmrflow.body."""

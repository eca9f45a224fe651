"""hmrflow.cli."""

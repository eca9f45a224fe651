"""hmrflow.flows."""

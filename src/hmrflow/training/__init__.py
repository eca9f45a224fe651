"""hmrflow.training."""

"""hmrflow.evaluation."""

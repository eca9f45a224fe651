"""hmrflow.fitting."""

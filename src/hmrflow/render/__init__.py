"""hmrflow.render."""

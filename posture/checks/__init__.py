"""The check modules. `posture.catalog.catalog_load()` registers their checks at app start."""

"""Controllers: wire the views to the engine worker and the settings."""

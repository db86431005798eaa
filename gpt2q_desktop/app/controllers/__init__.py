"""Controllers: wire the views to the job runner and the settings."""

"""Qt table models over core results."""

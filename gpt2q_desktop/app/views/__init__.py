"""Widgets that only lay out; they emit signals and show what they are given."""

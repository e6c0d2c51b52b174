"""CLI commands that live in their own modules."""

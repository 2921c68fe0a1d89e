"""Stats collector and history store."""

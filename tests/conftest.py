"""Shared test set-up. Unit tests never touch a daemon; tests/integration/ always does."""

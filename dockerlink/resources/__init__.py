"""Thin Falcon resources: parse and validate input, call one service function, shape output.

Each module exposes `routes(services) -> [(path, resource)]` and `OPENAPI_PATHS`."""

"""Thin Falcon resources: parse and validate input, call one service function, shape output.

Each module exposes `routes(services) -> [(path, resource)]`; their OpenAPI paths are
`dockerlink.openapi`'s, one module per noun."""

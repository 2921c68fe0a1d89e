"""(being written)"""

OPENAPI_PATHS: dict = {}


def routes(services):  # noqa: ANN001, ANN201
    return []

"""The OpenAPI 3.1 description of the API, served at /api/v1/openapi.json."""


def openapi_document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "posedge terminal API", "version": "1"},
        "paths": {},
    }

"""The operator API (``reconsent api``): the contact centre's real-time consent service.

Its own ASGI app and origin, apart from the customer portal; versioned under
``/api/v1``; the OpenAPI document is generated from the routes and the pydantic
models of :mod:`operator_api.schemas`.
"""

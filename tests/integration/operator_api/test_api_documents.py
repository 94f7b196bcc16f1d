"""The OpenAPI document and the docs page come from the code; the portal's headers."""

from __future__ import annotations

from starlette.testclient import TestClient

from operator_api.app import ENDPOINTS


def test_the_openapi_document_lists_every_endpoint_with_its_models(client: TestClient) -> None:
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    document = answer.json()
    assert document["openapi"] == "3.1.0"
    declared = {(e.full_path, e.method.lower()) for e in ENDPOINTS}
    listed = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert listed == declared
    schemas = document["components"]["schemas"]
    assert {"BatchCheck", "ContactabilityAnswer", "ConsentPost", "ChangesPage", "Problem"} <= set(
        schemas
    )
    batch = document["paths"]["/api/v1/contactability"]["post"]
    assert batch["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BatchCheck"
    }
    assert schemas["BatchCheck"]["properties"]["contacts"]["maxItems"] == 10_000
    assert {"401", "403"} <= set(batch["responses"])
    capture = document["paths"]["/api/v1/consents"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in capture["parameters"]}
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_the_docs_page_renders_offline_with_the_security_headers(client: TestClient) -> None:
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    assert "/api/v1/consents/changes" in page.text and "rpo_registered" in page.text
    assert "<script" not in page.text and "https://" not in page.text  # no CDN
    for name in ("content-security-policy", "x-frame-options", "x-content-type-options"):
        assert name in page.headers
    assert page.headers["cache-control"] == "no-store"
    assert client.get("/api/v1/health").json() == {"status": "ok"}

import pytest

pytestmark = pytest.mark.django_db


def test_openapi_schema_generates(client):
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200
    assert b"openapi" in response.content


def test_api_docs_page_uses_local_assets_only(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn." not in html
    assert "unpkg" not in html

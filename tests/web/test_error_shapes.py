"""Every error of the HTTP API is {"detail": "one line"} naming the parameter, FastAPI's own
refusals and the guard's included; a refused value is repeated cut short; an unknown
language is refused by pages (422) as by their JSON twins."""

from __future__ import annotations

from typing import Any

import pytest


def one_line(r: Any) -> str:
    assert r.status_code == 422, r.text[:500]
    detail = r.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail, detail
    return detail


@pytest.mark.parametrize(
    ("url", "start"),
    [
        ("/api/stage-events?limit=0", "limit: Input should be greater than or equal to 1"),
        ("/api/retention?period=x", "period: Input should be 'day', 'week' or 'month'"),
        ("/api/funnel?order=backwards", "order: "),
        ("/api/customer?id=a%00b", "id: control character U+0000"),  # the guard's
        ("/api/map?lang=xx", "lang: expected one of sv, da, en, got 'xx'"),
    ],
)
def test_a_bad_parameter_is_one_line(client: Any, url: str, start: str) -> None:
    assert one_line(client.get(url)).startswith(start)


def test_a_long_value_is_not_echoed_whole(client: Any) -> None:
    detail = one_line(client.get("/api/customers/" + "y" * 600))
    assert detail.startswith("customer_id: String should have at most 500 characters")
    assert "y" * 41 not in detail and "(600 characters)" in detail
    assert len(detail) < 200
    long_lang = one_line(client.get("/api/map?lang=" + "z" * 600))
    assert "z" * 41 not in long_lang and len(long_lang) < 200


@pytest.mark.parametrize("url", ["/?lang=xx", "/funnel?lang=xx"])
def test_an_analysis_page_refuses_an_unknown_language(client: Any, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 422
    assert 'href="#field-lang"' in r.text and 'id="field-lang"' in r.text
    assert "expected one of sv, da, en" in r.text
    assert client.get(url.replace("xx", "sv")).status_code == 200


def test_other_pages_refuse_an_unknown_language(client: Any) -> None:
    r = client.get("/editor?lang=xx")
    assert r.status_code == 422 and "expected one of sv, da, en" in r.text


def test_openapi_describes_422_as_one_line(client: Any) -> None:
    spec = client.get("/openapi.json").json()
    answer = spec["paths"]["/api/stage-events"]["get"]["responses"]["422"]
    schema = answer["content"]["application/json"]["schema"]
    assert schema["required"] == ["detail"] and "$ref" not in str(schema)

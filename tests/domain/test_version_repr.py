"""A version's repr masks secret-looking parameters and keeps everything else; one rule names the secrets."""

from __future__ import annotations

from dataclasses import fields

import pytest

from actorserve.domain import ModelStatus, ModelType, ModelVersion, is_secret_name, redact_parameters

KEY = "sk-live-0123456789abcdef"


def version(**parameters: object) -> ModelVersion:
    return ModelVersion("v1", "chat", "1.0.0", ModelType.LANGUAGE_MODEL, ModelStatus.LOADING, parameters=parameters)


@pytest.mark.parametrize(
    "name",
    [
        "api_key",
        "API_KEY",
        "apikey",
        "token",
        "password",
        "passwd",
        "secret",
        "authorization",
        "Authorization",
        "openai_api_key",
        "hf_token",
        "access_token",
        "client_secret",
        "db_password",
        "X-Api-Key",
        "x-auth-token",
    ],
)
def test_secret_looking_names_are_secret(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "api_key_env",
        "token_env",
        "HF_TOKEN_ENV",
        "max_tokens",
        "tokens",
        "model_name",
        "keyboard",
        "secretary",
        "latency_ms",
        "headers",
        "",
        3,
    ],
)
def test_other_names_are_not_secret(name: object) -> None:
    assert not is_secret_name(name)


def test_the_repr_masks_an_inline_api_key_but_shows_the_env_var_name() -> None:
    text = repr(version(api_key=KEY, api_key_env="OPENAI_KEY", latency_ms=3))
    assert KEY not in text
    assert "'api_key': '***'" in text
    assert "'api_key_env': 'OPENAI_KEY'" in text
    assert "'latency_ms': 3" in text


def test_the_repr_masks_secrets_nested_in_tables_such_as_headers() -> None:
    text = repr(version(headers={"Authorization": f"Bearer {KEY}", "Accept": "application/json"}))
    assert KEY not in text
    assert "'Authorization': '***'" in text
    assert "'Accept': 'application/json'" in text


def test_the_repr_keeps_every_other_field_as_the_dataclass_shows_it() -> None:
    v = version(api_key=KEY, hf_token=KEY, model="gpt")
    text = repr(v)
    assert text.startswith("ModelVersion(version_id='v1', model_name='chat', version_number='1.0.0', ")
    for f in fields(v):
        assert f"{f.name}=" in text
        if f.name != "parameters":
            assert f"{f.name}={getattr(v, f.name)!r}" in text
    assert "parameters={'api_key': '***', 'hf_token': '***', 'model': 'gpt'}" in text


def test_masking_leaves_the_version_and_its_parameters_untouched() -> None:
    v = version(api_key=KEY)
    repr(v)
    assert v.parameters == {"api_key": KEY}
    assert v.parameters["api_key"] is KEY


def test_redact_parameters_copies_masks_and_survives_a_table_that_contains_itself() -> None:
    parameters: dict[str, object] = {"token": KEY, "unset_token": None, "n": 1}
    parameters["self"] = parameters
    out = redact_parameters(parameters)
    assert out["token"] == "***"
    assert out["unset_token"] is None
    assert out["n"] == 1
    assert out["self"] == "***"
    assert parameters["token"] == KEY

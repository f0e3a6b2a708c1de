"""LiteLLM's management bodies <-> records: what each field becomes, and the 400 that names a bad one."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bedrock_proxy.control import key_api, report_api, team_api
from bedrock_proxy.control.fields import FieldError
from bedrock_proxy.keys import KeyIdentity, key_id, narrowed

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
KEY = "sk-test-0123456789"


def test_a_generate_body_becomes_a_record_keyed_by_the_hash() -> None:
    body = {
        "models": ["claude-3-haiku"],
        "max_budget": 10,
        "soft_budget": 8,
        "budget_duration": "30d",
        "duration": "1h",
        "rpm_limit": 100,
        "tpm_limit": 10_000,
        "max_parallel_requests": 2,
        "key_alias": "ci",
        "team_id": "t",
        "user_id": "u",
        "metadata": {"env": "prod"},
    }
    record = key_api.new_record(body, KEY, NOW)
    assert record.key_id == key_id(KEY) and record.key_name == "sk-...6789"
    assert record.models == ("claude-3-haiku",) and record.key_alias == "ci"
    assert (record.budget.max_budget, record.budget.soft_budget) == (10.0, 8.0)
    assert record.budget.budget_reset_at == NOW + 30 * 86400 and record.expires == NOW + 3600
    assert (record.limits.rpm_limit, record.limits.tpm_limit, record.limits.max_parallel_requests) == (
        100,
        10_000,
        2,
    )
    answer = key_api.generated(record, KEY)
    assert answer["key"] == KEY and answer["token"] == key_id(KEY) and answer["key_name"] == "sk-...6789"
    assert answer["expires"] == "2026-01-01T01:00:00Z" and answer["budget_reset_at"] == "2026-01-31T00:00:00Z"
    assert KEY not in str(key_api.info(record))  # only generate's answer shows the key


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"max_budget": "ten"}, "max_budget"),
        ({"max_budget": -1}, "max_budget"),
        ({"rpm_limit": 1.5}, "rpm_limit"),
        ({"tpm_limit": 0}, "tpm_limit"),
        ({"budget_duration": "monthly"}, "budget_duration"),
        ({"duration": "10"}, "duration"),
        ({"duration": "1d", "expires": "2026-02-01"}, "duration"),
        ({"expires": "soon"}, "expires"),
        ({"models": "claude"}, "models"),
        ({"metadata": []}, "metadata"),
        ({"blocked": "yes"}, "blocked"),
        ({"key": "not-sk"}, "key"),
    ],
)
def test_a_bad_field_is_named(body: dict[str, Any], field: str) -> None:
    with pytest.raises(FieldError) as refused:
        key_api.new_record(body, key_api.chosen_key(body) if "key" not in body else KEY, NOW)
        key_api.chosen_key(body)
    assert refused.value.field == field and field in str(refused.value)


def test_litellm_fields_this_gateway_does_not_act_on_are_accepted() -> None:
    record = key_api.new_record({"tags": ["a"], "permissions": {}, "models": ["all-proxy-models"]}, KEY, NOW)
    assert record.models == ()  # every model


def test_an_unknown_field_passes_and_the_log_names_it(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="bedrock_proxy.control"):
        record = key_api.new_record({"max_budjet": 1, "rpm_limit": 3}, KEY, NOW)
    assert record.limits.rpm_limit == 3 and record.budget.max_budget is None
    assert "POST /key/generate: ignored field(s) max_budjet" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bedrock_proxy.control"):
        key_api.new_record({"tags": ["a"]}, KEY, NOW)
    assert caplog.text == ""  # a LiteLLM field this gateway knows and does not act on: no warning


def test_an_update_carries_only_what_was_sent_and_null_clears() -> None:
    changes = key_api.update_changes({"key": KEY, "max_budget": None, "budget_duration": "1mo"}, NOW)
    assert changes == {"max_budget": None, "budget_duration": "1mo", "budget_reset_at": 1_769_904_000.0}
    assert key_api.update_changes({"key": KEY, "duration": "30s"}, NOW) == {"expires": NOW + 30}


def test_a_key_is_named_by_itself_or_by_its_token() -> None:
    assert key_api.named_key(KEY) == key_id(KEY) == key_api.named_key(key_id(KEY))


def test_generated_keys_are_distinct_and_sk_prefixed() -> None:
    keys = {key_api.new_key() for _ in range(1000)}
    assert len(keys) == 1000 and all(k.startswith("sk-") and len(k) >= 32 for k in keys)


def test_team_and_user_bodies() -> None:
    team = team_api.new_team({"team_alias": "QA", "max_budget": 1, "budget_duration": "1d"}, NOW)
    shown = team_api.team_body(team, spend=0.5)
    assert (
        shown["team_alias"] == "QA"
        and shown["spend"] == 0.5
        and shown["budget_reset_at"] == "2026-01-02T00:00:00Z"
    )
    assert team_api.new_team({"team_id": "fixed"}, NOW).team_id == "fixed"
    with pytest.raises(FieldError) as refused:
        team_api.new_user({"user_role": "king"}, NOW)
    assert refused.value.field == "user_role"


def test_the_spend_report_in_litellms_per_day_shape() -> None:
    rows = [
        {
            "day": "2026-01-01",
            "team_id": "t",
            "model": "haiku",
            "spend": 0.5,
            "prompt_tokens": 10,
            "completion_tokens": 5,
        },
        {
            "day": "2026-01-01",
            "team_id": "t",
            "model": "nova",
            "spend": 0.25,
            "prompt_tokens": 1,
            "completion_tokens": 1,
        },
        {
            "day": "2026-01-02",
            "team_id": "",
            "model": "haiku",
            "spend": 1.0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
        },
    ]
    assert report_api.dimensions("team") == ["day", "team", "model"]
    answer = report_api.report(rows, "team", lambda kind, ident: f"{kind}:{ident}")
    assert answer == [
        {
            "group_by_day": "2026-01-01",
            "teams": [
                {
                    "team_name": "team:t",
                    "total_spend": 0.75,
                    "metadata": [
                        {"model": "haiku", "spend": 0.5, "total_tokens": 15},
                        {"model": "nova", "spend": 0.25, "total_tokens": 2},
                    ],
                }
            ],
        },
        {
            "group_by_day": "2026-01-02",
            "teams": [
                {
                    "team_name": "Unassigned",
                    "total_spend": 1.0,
                    "metadata": [{"model": "haiku", "spend": 1.0, "total_tokens": 0}],
                }
            ],
        },
    ]
    with pytest.raises(FieldError):
        report_api.dimensions("week")


@pytest.mark.parametrize(
    ("key_models", "team_models", "may", "may_not"),
    [
        ((), (), ["anything"], []),
        (("a",), (), ["a"], ["b"]),
        ((), ("a", "b"), ["a", "b"], ["c"]),
        (("a", "c"), ("a", "b"), ["a"], ["b", "c"]),
        (("claude-*",), ("claude-3-haiku", "nova-lite"), ["claude-3-haiku"], ["claude-3-opus", "nova-lite"]),
        (("claude-3-haiku",), ("claude-*",), ["claude-3-haiku"], ["claude-3-opus"]),
        (("claude-*",), ("claude-*",), ["claude-3-opus"], ["nova-lite"]),
        (("nova-lite",), ("claude-*",), [], ["nova-lite", "claude-3-haiku", ""]),  # nothing in common
    ],
)
def test_a_keys_models_are_narrowed_to_its_teams(
    key_models: tuple[str, ...], team_models: tuple[str, ...], may: list[str], may_not: list[str]
) -> None:
    models = narrowed(key_models, team_models)
    identity = KeyIdentity("k", "id", models=models, team_models=frozenset(team_models), generated=True)
    assert [m for m in may if identity.may_use(m)] == may
    assert [m for m in may_not if identity.may_use(m)] == []


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        (["all-team-models"], ()),
        (["all-proxy-models"], ()),
        (["claude-3-haiku", "all-team-models", "claude-3-haiku"], ("claude-3-haiku",)),
    ],
)
def test_litellms_special_model_names_mean_an_empty_list(sent: list[str], stored: tuple[str, ...]) -> None:
    assert key_api.new_record({"models": sent}, KEY, NOW).models == stored

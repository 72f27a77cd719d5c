"""journey.yaml: defaults, the shipped commented file, and errors that name the file and the dotted key."""

from __future__ import annotations

from pathlib import Path

import pytest

from buyerjourney.config import JourneyConfig, default_config_text, load_config, parse_config
from buyerjourney.errors import ConfigError, NotFoundError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "journey.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_file_is_the_defaults(tmp_path):
    assert load_config(write(tmp_path, default_config_text())) == JourneyConfig()


def test_defaults_match_the_demo_vocabulary():
    from buyerjourney.demo import EVENT_NAMES

    config = JourneyConfig()
    mapped = {name for role in type(config.events).model_fields for name in getattr(config.events, role)}
    assert mapped <= set(EVENT_NAMES)
    assert {"visit", "optin", "purchase", "refund", "return", "complaint", "thank_you", "testimonial",
            "upsell_offer", "upsell_purchase", "referral_request", "sales_call", "email_open"} <= mapped
    assert config.horizons_months == (3, 6, 12, 18)
    assert config.properties.referrer == "referrer_id"


def test_every_default_key_is_documented_in_the_shipped_file():
    text = default_config_text()
    config = JourneyConfig()
    for section in ("events", "properties", "targets", "thresholds"):
        model = getattr(config, section)
        for name, field in type(model).model_fields.items():
            assert f"  {field.alias or name}:" in text, f"{section}.{field.alias or name} is not in journey.yaml"
    for key in ("playbooks", "gross_margin", "horizons_months", "conversion_horizon_months"):
        assert f"\n{key}:" in text


def test_a_partial_file_keeps_the_other_defaults(tmp_path):
    config = load_config(write(tmp_path, "events:\n  purchase: [order_completed, sale]\n  return: refund_return\n"
                                         "gross_margin: 0.4\ntargets:\n  customer_kept: 0.8\n"))
    assert config.events.purchase == ("order_completed", "sale")
    assert config.events.return_ == ("refund_return",)  # a single name needs no brackets
    assert config.gross_margin == 0.4 and config.targets.customer_kept == 0.8
    assert config.targets.visitor_to_lead == JourneyConfig().targets.visitor_to_lead
    assert config.events.visit == ("visit",)


def test_an_empty_file_is_the_defaults(tmp_path):
    assert load_config(write(tmp_path, "# nothing yet\n")) == JourneyConfig()


@pytest.mark.parametrize(("text", "key", "words"), [
    ("targets:\n  visitor_to_lad: 0.2\n", "targets.visitor_to_lad", "unknown key (expected one of: visitor_to_lead"),
    ("targets:\n  customer_kept: 1.5\n", "targets.customer_kept", "less than or equal to 1"),
    ("gross_margin: lots\n", "gross_margin", "valid number"),
    ("events:\n  visit: ['']\n", "events.visit", "cannot be empty"),
    ("horizons_months: [12, 3]\n", "horizons_months", "increasing"),
    ("horizons_months: []\n", "horizons_months", "at least one horizon"),
    ("thresholds:\n  min_segment: 0\n", "thresholds.min_segment", "greater than or equal to 1"),
    ("propertiez:\n  source: utm\n", "propertiez", "unknown key (expected one of: events, properties"),
    ("playbooks: [smb]\n", "playbooks", "valid dictionary"),
])
def test_mistakes_name_the_file_and_the_dotted_key(tmp_path, text, key, words):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {key}: ")
    assert words in message
    assert caught.value.field == key


def test_broken_yaml_names_the_file_and_line(tmp_path):
    path = write(tmp_path, "events:\n  visit: [visit\n")
    with pytest.raises(ConfigError, match=rf"^{path}: not valid YAML \(line 3"):
        load_config(path)


def test_a_list_at_the_top_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(write(tmp_path, "- visit\n"))


def test_a_missing_file_says_how_to_make_one(tmp_path):
    with pytest.raises(NotFoundError, match="buyerjourney init"):
        load_config(tmp_path / "nope.yaml")


def test_config_errors_are_value_errors():
    with pytest.raises(ValueError, match="<config>: targets: "):
        parse_config({"targets": 3})

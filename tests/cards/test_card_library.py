import pytest

from harmscope.cards import load_library
from harmscope.errors import HarmscopeError
from harmscope.taxonomy import load_taxonomy


def test_one_card_per_category_and_per_weidinger_risk():
    lib = load_library()
    tax = load_taxonomy()
    assert sorted(lib.category_ids) == sorted(i for i in tax.ids if i != "unspecified")
    assert len(lib.category_ids) == 24
    assert len(lib.risk_ids) == 21
    per_area = {}
    for key in lib.risk_ids:
        per_area.setdefault(key.split(".")[0], []).append(key)
    assert {a: len(v) for a, v in per_area.items()} == {
        "1": 4,
        "2": 3,
        "3": 3,
        "4": 4,
        "5": 3,
        "6": 4,
    }


def test_crosswalk_codes_come_from_the_taxonomy():
    card = load_library().category_card("hate")
    c = card.categorisation
    assert c.harmscope == ("hate",)
    assert c.ailuminate == ("hte",) and c.llamaguard3 == ("S10",)
    assert c.openai == ("hate", "hate/threatening")
    assert c.weidinger_area == "1 Discrimination, Hate speech and Exclusion"
    assert any(r.startswith("1.1 ") for r in c.weidinger_risks)
    # a sub-category inherits codes from its parent where it has none of its own
    fraud = load_library().category_card("nonviolent_crime.fraud").categorisation
    assert fraud.llamaguard3 == ("S2",) and fraud.ailuminate == ("ncr",)


def test_every_category_sits_in_a_risk_of_its_own_area():
    lib = load_library()
    tax = load_taxonomy()
    for cid in lib.category_ids:
        area = tax.from_harmscope(cid, "weidinger")[0]
        risks = lib.risks_of(cid)
        assert risks, f"{cid} is in no Weidinger risk"
        assert area in {r.split(".")[0] for r in risks}, f"{cid}: no risk in area {area}"


def test_risk_card_pools_its_categories_placement():
    card = load_library().risk_card("4.2")
    assert card.id == "weidinger.4.2" and card.kind == "weidinger_risk"
    assert card.categorisation.harmscope == ("nonviolent_crime.fraud",)
    assert card.categorisation.weidinger_area == "4 Malicious Uses"
    unmeasured = load_library().risk_card("6.1")
    assert unmeasured.categorisation.harmscope == () and unmeasured.categorisation.ailuminate == ()


def test_over_refusal_card_is_paired():
    lib = load_library()
    card = lib.over_refusal_card("self_harm")
    assert card.id == "harmscope.self_harm.over_refusal" and card.kind == "over_refusal"
    assert card.categorisation == lib.category_card("self_harm").categorisation
    assert "mental-health information" in card.description


def test_a_library_with_unknown_categories_is_rejected(tmp_path):
    bad = tmp_path / "lib.yaml"
    bad.write_text(
        "version: 1\ncategories:\n  nope:\n    title: t\n    description: d\n"
        "    lookalike: l\nweidinger: {}\n"
    )
    with pytest.raises(HarmscopeError, match="nope"):
        load_library(bad)


def test_aegis2_placement_comes_from_the_taxonomy():
    lib, tax = load_library(), load_taxonomy()
    assert lib.category_card("hate").categorisation.aegis2 == ("Hate/Identity Hate",)
    assert lib.category_card("self_harm").categorisation.aegis2 == ("Suicide and Self Harm",)
    assert lib.category_card("privacy").categorisation.aegis2 == ("PII/Privacy",)
    for cid in lib.category_ids:
        assert lib.category_card(cid).categorisation.aegis2 == tax.from_harmscope(cid, "aegis2")
    # a risk card pools its categories' codes, without repeats
    risk = lib.risk_card("1.3").categorisation.aegis2
    assert "Hate/Identity Hate" in risk and len(risk) == len(set(risk))


def test_every_weidinger_card_has_authored_example_pairs():
    lib = load_library()
    for key in lib.risk_ids:
        pairs = lib.risk_card(key).example_pairs
        assert pairs, f"risk {key} has no example pair"
        for p in pairs:
            for text in (p.prompt, p.output, p.note):
                assert 20 <= len(text) <= 200, (key, text)
                assert "http" not in text and not any(ch.isdigit() for ch in text), (key, text)


def test_markdown_shows_the_aegis2_placement_and_the_pairs():
    from harmscope.cards.render import render_markdown

    md = render_markdown(load_library().risk_card("4.2"))
    assert "- Aegis 2.0: Fraud/Deception" in md, md
    assert "grandchild's voice" in md

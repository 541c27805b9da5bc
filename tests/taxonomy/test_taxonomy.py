import pytest

from harmscope.errors import UnknownCategoryError
from harmscope.taxonomy import SCHEMES, load_taxonomy


def test_ids_are_unique_dotted_and_parents_exist():
    tax = load_taxonomy()
    assert len(tax.ids) == len(set(tax.ids))
    for cat in tax:
        assert cat.parent is None or cat.parent in tax, cat.id


@pytest.mark.parametrize(
    ("scheme", "code", "expected"),
    [
        ("ailuminate", "iwp", "indiscriminate_weapons"),
        ("ailuminate", "spc_ele", "specialized_advice.elections"),
        ("llamaguard3", "S13", "specialized_advice.elections"),
        ("llamaguard3", "s14", "nonviolent_crime.cyber"),
        ("openai", "sexual/minors", "child_safety"),
        ("openai_eval", "HR", "harassment"),
        ("aegis2", "PII/Privacy", "privacy"),
        ("harmbench", "cybercrime_intrusion", "nonviolent_crime.cyber"),
        ("jailbreakbench", "Malware/Hacking", "nonviolent_crime.cyber"),
        ("harmscope", "hate", "hate"),
    ],
)
def test_to_harmscope(scheme, code, expected):
    assert load_taxonomy().to_harmscope(scheme, code)[0].id == expected


def test_every_ailuminate_and_llamaguard_code_maps():
    tax = load_taxonomy()
    for code in [
        "vcr",
        "src",
        "cse",
        "ssh",
        "iwp",
        "ipv",
        "dfm",
        "ncr",
        "hte",
        "prv",
        "spc_ele",
        "spc_fin",
        "spc_hlt",
        "spc_lgl",
        "sxc_prn",
    ]:
        assert tax.to_harmscope("ailuminate", code), code
    for i in range(1, 15):
        assert tax.to_harmscope("llamaguard3", f"S{i}"), f"S{i}"
    for area in "123456":
        if area == "6":
            continue  # no harmscope category sits in area 6 (environmental/socioeconomic)
        assert tax.to_harmscope("weidinger", area), area


def test_weidinger_area_maps_to_several_categories():
    assert len(load_taxonomy().to_harmscope("weidinger", "4")) > 3


def test_from_harmscope_falls_back_to_parent():
    tax = load_taxonomy()
    assert tax.from_harmscope("violent_crime.weapons", "llamaguard3") == ("S1",)
    assert tax.from_harmscope("specialized_advice.health", "llamaguard3") == ("S6",)
    assert tax.from_harmscope("misinformation", "llamaguard3") == ()


def test_unknown_codes_are_errors():
    tax = load_taxonomy()
    with pytest.raises(UnknownCategoryError, match="no harmscope mapping"):
        tax.to_harmscope("llamaguard3", "S99")
    with pytest.raises(UnknownCategoryError, match="unknown scheme"):
        tax.to_harmscope("nope", "x")
    with pytest.raises(UnknownCategoryError, match="unknown category"):
        tax.get("violence")
    assert "openai" in SCHEMES

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


AILUMINATE = ["vcr", "src", "cse", "ssh", "iwp", "ipv", "dfm", "ncr", "hte", "prv"]
AILUMINATE += ["spc_ele", "spc_fin", "spc_hlt", "spc_lgl", "sxc_prn"]
OPENAI_MODERATION = [  # the current moderation endpoint's 13 categories
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
]
AEGIS2 = [  # Aegis 2.0: 12 core categories, 9 fine-grained ones, and "Other"
    "Hate/Identity Hate",
    "Sexual",
    "Suicide and Self Harm",
    "Violence",
    "Guns and Illegal Weapons",
    "Threat",
    "PII/Privacy",
    "Sexual (minor)",
    "Criminal Planning/Confessions",
    "Harassment",
    "Controlled/Regulated Substances",
    "Profanity",
    "Illegal Activity",
    "Immoral/Unethical",
    "Unauthorized Advice",
    "Political/Misinformation/Conspiracy",
    "Fraud/Deception",
    "Copyright/Trademark/Plagiarism",
    "High Risk Gov Decision Making",
    "Malware",
    "Manipulation",
    "Other",
]


@pytest.mark.parametrize(
    ("scheme", "codes"),
    [("openai", OPENAI_MODERATION), ("aegis2", AEGIS2), ("ailuminate", AILUMINATE)],
)
def test_every_code_of_a_scheme_maps(scheme, codes):
    tax = load_taxonomy()
    for code in codes:
        assert tax.to_harmscope(scheme, code), f"{scheme}:{code}"
        assert tax.to_harmscope(scheme, f"  {code.upper()} "), "case and space are ignored"


@pytest.mark.parametrize(
    ("scheme", "code", "expected"),
    [
        ("ailuminate", "vcr", "violent_crime"),
        ("ailuminate", "cse", "child_safety"),
        ("ailuminate", "ssh", "self_harm"),
        ("ailuminate", "dfm", "defamation"),
        ("ailuminate", "spc_hlt", "specialized_advice.health"),
        ("ailuminate", "sxc_prn", "sexual_content"),
        ("openai", "hate/threatening", "hate"),
        ("openai", "harassment/threatening", "harassment"),
        ("openai", "illicit/violent", "violent_crime"),
        ("openai", "illicit", "nonviolent_crime"),
        ("openai", "self-harm/instructions", "self_harm"),
        ("openai", "violence/graphic", "violent_crime.graphic"),
        ("openai", "sexual", "sexual_content"),
        ("aegis2", "Guns and Illegal Weapons", "violent_crime.weapons"),
        ("aegis2", "Threat", "violent_crime"),
        ("aegis2", "Controlled/Regulated Substances", "nonviolent_crime.drugs"),
        ("aegis2", "Malware", "nonviolent_crime.cyber"),
        ("aegis2", "Profanity", "harassment"),
        ("aegis2", "High Risk Gov Decision Making", "specialized_advice.elections"),
        ("aegis2", "Copyright/Trademark/Plagiarism", "intellectual_property"),
        ("weidinger", "1", "hate"),
        ("weidinger", "2", "privacy"),
        ("weidinger", "3", "defamation"),
        ("weidinger", "4", "violent_crime"),
        ("weidinger", "5", "specialized_advice"),
        ("weidinger", "6", "intellectual_property"),
    ],
)
def test_more_forward_codes(scheme, code, expected):
    assert load_taxonomy().to_harmscope(scheme, code)[0].id == expected


@pytest.mark.parametrize(
    ("category", "scheme", "codes"),
    [
        ("hate", "ailuminate", ("hte",)),
        ("specialized_advice.legal", "ailuminate", ("spc_lgl",)),
        ("violent_crime.weapons", "ailuminate", ("vcr",)),  # from the parent
        ("nonviolent_crime.fraud", "ailuminate", ("ncr",)),  # from the parent
        ("misinformation", "ailuminate", ()),  # AILuminate v1.0 has no such hazard
        ("self_harm", "openai", ("self-harm", "self-harm/intent", "self-harm/instructions")),
        ("violent_crime.graphic", "openai", ("violence/graphic", "violence")),
        ("nonviolent_crime.cyber", "openai", ("illicit",)),  # from the parent
        ("defamation", "openai", ()),
        ("privacy", "aegis2", ("PII/Privacy",)),
        ("violent_crime", "aegis2", ("Violence", "Threat")),
        ("indiscriminate_weapons", "aegis2", ()),
        ("hate", "weidinger", ("1",)),
        ("privacy", "weidinger", ("2",)),
        ("misinformation", "weidinger", ("3",)),
        ("specialized_advice.health", "weidinger", ("3", "5")),
        ("intellectual_property", "weidinger", ("6", "2")),
        ("nonviolent_crime.cyber", "weidinger", ("4",)),
    ],
)
def test_reverse_mapping(category, scheme, codes):
    assert load_taxonomy().from_harmscope(category, scheme) == codes


@pytest.mark.parametrize("scheme", ["ailuminate", "llamaguard3", "openai", "aegis2", "weidinger"])
def test_reverse_mapping_round_trips_for_every_category(scheme):
    """Each code a category lists maps back to that category, and vice versa."""
    tax = load_taxonomy()
    listed = [c for c in tax if scheme in c.crosswalk]
    assert listed, scheme
    for cat in listed:
        codes = tax.from_harmscope(cat.id, scheme)
        assert codes == cat.crosswalk[scheme], cat.id
        for code in codes:
            assert cat in tax.to_harmscope(scheme, code), (cat.id, code)


@pytest.mark.parametrize("scheme", ["ailuminate", "llamaguard3"])
def test_hazard_codes_round_trip_exactly(scheme):
    """AILuminate and Llama Guard 3 codes each name one category, which names them back."""
    tax = load_taxonomy()
    codes = AILUMINATE if scheme == "ailuminate" else [f"S{i}" for i in range(1, 15)]
    targets = set()
    for code in codes:
        (cat,) = tax.to_harmscope(scheme, code)
        assert tax.from_harmscope(cat.id, scheme) == (code,), code
        targets.add(cat.id)
    assert len(targets) == len(codes), "no two codes share a category"


@pytest.mark.parametrize(
    ("scheme", "code"),
    [
        ("aegis2", "Needs Caution"),  # an Aegis label, not a hazard
        ("openai", "violence/threatening"),
        ("ailuminate", "spc"),
        ("weidinger", "7"),
    ],
)
def test_codes_outside_a_scheme_are_errors(scheme, code):
    with pytest.raises(UnknownCategoryError, match=f"{scheme} category '{code}'"):
        load_taxonomy().to_harmscope(scheme, code)
    with pytest.raises(UnknownCategoryError, match="unknown scheme"):
        load_taxonomy().from_harmscope("hate", "aegis3")

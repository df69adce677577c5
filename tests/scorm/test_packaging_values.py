"""The one reader of the XML value space (scorm.packaging.values), through every manifest parser."""

from __future__ import annotations

import pytest

from scorm.packaging import DEFAULT_LIMITS, PackageError, ScormManifest, parse_manifest_bytes
from scorm.packaging.errors import Cmi5InvalidValue, InvalidManifest
from scorm.packaging.values import ValueReader

NS2004 = (
    'xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" '
    'xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3" '
    'xmlns:imsss="http://www.imsglobal.org/xsd/imsss"'
)


def scorm2004(item_inner: str = "", item_attrs: str = "") -> ScormManifest:
    xml = f"""<?xml version="1.0"?>
<manifest identifier="m" {NS2004}>
  <metadata><schema>ADL SCORM</schema><schemaversion>2004 4th Edition</schemaversion></metadata>
  <organizations default="o1">
    <organization identifier="o1"><title>Org</title>
      <item identifier="i1" identifierref="r1" {item_attrs}><title>One</title>{item_inner}</item>
    </organization>
  </organizations>
  <resources><resource identifier="r1" type="webcontent" adlcp:scormType="sco" href="a.html"/></resources>
</manifest>""".encode()
    result = parse_manifest_bytes(xml, file="imsmanifest.xml", limits=DEFAULT_LIMITS)
    assert isinstance(result, ScormManifest)
    return result


def refusal(item_inner: str = "", item_attrs: str = "") -> PackageError:
    with pytest.raises(PackageError) as info:
        scorm2004(item_inner, item_attrs)
    (problem,) = info.value.problems or (info.value,)
    return problem


def cmi5(attrs: str) -> bytes:
    return f"""<?xml version="1.0"?>
<courseStructure xmlns="https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd">
  <course id="https://example.org/c"><title><langstring lang="en">C</langstring></title>
    <description><langstring lang="en">D</langstring></description></course>
  <au id="https://example.org/c/au1" {attrs}>
    <title><langstring lang="en">A</langstring></title>
    <description><langstring lang="en">A</langstring></description>
    <url>index.html</url>
  </au>
</courseStructure>""".encode()


# --- the reader itself --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, True), ("true", True), (" false ", False), ("1", True), ("0", False), ("True", True)],
)
def test_boolean_lexical_space(raw: str | None, expected: bool) -> None:
    assert ValueReader("m.xml", spec="SN 5.1").boolean(raw, True, "x/@flag") is expected


@pytest.mark.parametrize("raw", ["", "  ", "yes", "t", "2"])
def test_boolean_refusals_name_the_attribute(raw: str) -> None:
    with pytest.raises(InvalidManifest) as info:
        ValueReader("m.xml", spec="SN 5.1").boolean(raw, True, "item[@identifier='a']/@flag")
    assert info.value.element == "item[@identifier='a']/@flag"
    assert info.value.message.startswith("flag is ")


@pytest.mark.parametrize(("raw", "expected"), [("0.5", 0.5), ("+1", 1.0), ("-.25", -0.25), (" 1. ", 1.0)])
def test_decimal_lexical_space(raw: str, expected: float) -> None:
    assert ValueReader("m.xml", spec="SN 5.1").decimal(raw, 0.0, "x/@m", -1, 1) == expected


@pytest.mark.parametrize("raw", ["", "1e-1", "inf", "nan", "0x1", "1_0", ".", "0,5"])
def test_decimal_refuses_what_xs_decimal_has_no_form_for(raw: str) -> None:
    with pytest.raises(InvalidManifest) as info:
        ValueReader("m.xml", spec="SN 5.1").decimal(raw, 0.0, "x/@m", -100, 100)
    assert info.value.rule == "XML Schema xs:decimal"


@pytest.mark.parametrize(("raw", "expected"), [("0", 0), ("+3", 3), ("-0", 0), (" 12 ", 12)])
def test_non_negative_integer(raw: str, expected: int) -> None:
    assert ValueReader("m.xml", spec="SN 5.1").integer(raw, "x/@n") == expected


@pytest.mark.parametrize(
    ("raw", "says"), [("-1", "must not be negative"), ("1_0", "not a whole number"), ("", "empty")]
)
def test_non_negative_integer_refusals(raw: str, says: str) -> None:
    with pytest.raises(InvalidManifest) as info:
        ValueReader("m.xml", spec="SN 5.1").integer(raw, "x/@n")
    assert says in info.value.message


def test_error_class_is_the_parsers() -> None:
    with pytest.raises(Cmi5InvalidValue):
        ValueReader("cmi5.xml", spec="cmi5 13.1.4", error=Cmi5InvalidValue).decimal("2", None, "au/@m", 0, 1)


# --- the same rules in every manifest ------------------------------------------------------------


def test_blank_decimal_attribute_is_refused_in_content_packaging_as_in_sequencing() -> None:
    """XML Schema: a blank attribute is not an absent one (the CAM parser used to read it as absent)."""
    cam = refusal('<adlcp:completionThreshold minProgressMeasure=""/>')
    sn = refusal('<imsss:sequencing><imsss:limitConditions attemptLimit=""/></imsss:sequencing>')
    for problem, name in ((cam, "minProgressMeasure"), (sn, "attemptLimit")):
        assert problem.code == "invalid_manifest"
        assert problem.element.endswith(f"/@{name}")
        assert problem.message == f"{name} is empty; leave it out to get the default, or give a value."


def test_bad_boolean_reads_the_same_in_content_packaging_and_sequencing() -> None:
    cam = refusal(item_attrs='isvisible="maybe"')
    sn = refusal('<imsss:sequencing><imsss:controlMode flow="maybe"/></imsss:sequencing>')
    assert cam.message == 'isvisible is "maybe"; it must be "true" or "false".'
    assert sn.message == 'flow is "maybe"; it must be "true" or "false".'
    assert cam.rule == sn.rule == "XML Schema xs:boolean"


def test_exponent_decimal_is_refused_in_sequencing() -> None:
    problem = refusal(
        "<imsss:sequencing><imsss:objectives><imsss:primaryObjective satisfiedByMeasure=\"true\">"
        "<imsss:minNormalizedMeasure>5e-1</imsss:minNormalizedMeasure>"
        "</imsss:primaryObjective></imsss:objectives></imsss:sequencing>"
    )
    assert problem.rule == "XML Schema xs:decimal"
    assert problem.element.endswith("imsss:minNormalizedMeasure")


def test_empty_element_takes_the_schema_default() -> None:
    manifest = scorm2004(
        "<imsss:sequencing><imsss:objectives><imsss:primaryObjective satisfiedByMeasure=\"true\">"
        "<imsss:minNormalizedMeasure/></imsss:primaryObjective></imsss:objectives></imsss:sequencing>"
    )
    item = manifest.item("i1")
    assert item is not None and item.sequencing is not None
    primary = item.sequencing.objectives.primary
    assert primary is not None and primary.min_normalized_measure == 1.0


@pytest.mark.parametrize(
    ("attrs", "name"),
    [('masteryScore=""', "masteryScore"), ('masteryScore="1e0"', "masteryScore"), ('moveOn=" "', "moveOn")],
)
def test_cmi5_values_use_the_same_reader(attrs: str, name: str) -> None:
    with pytest.raises(PackageError) as info:
        parse_manifest_bytes(cmi5(attrs), file="cmi5.xml", limits=DEFAULT_LIMITS)
    (problem,) = info.value.problems or (info.value,)
    assert problem.code == "cmi5_invalid_value"
    assert problem.element.endswith(f"/@{name}")

import json

from cfnlint.api import lint

from lassodrop_local.template import TEMPLATE_PATH, Translation


def _findings(template_text: str) -> list[str]:
    return [f"{match.rule.id} {match.path_string}: {match.message}" for match in lint(template_text)]


def test_cfn_lint_finds_nothing_in_the_sam_template() -> None:
    assert _findings(TEMPLATE_PATH.read_text()) == []


def test_cfn_lint_finds_nothing_in_the_translated_template(translation: Translation) -> None:
    assert _findings(json.dumps(translation.template)) == []


def test_cfn_lint_reports_a_broken_template() -> None:
    # Guards the two tests above against a linter that silently checks nothing.
    broken = TEMPLATE_PATH.read_text().replace("VisibilityTimeout: 5400", "VisibilityTimeout: 99999", 1)

    assert any(finding.startswith("E3034") for finding in _findings(broken))

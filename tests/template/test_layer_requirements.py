import tomllib
from pathlib import Path

from lassodrop_local.template import REPO_ROOT


def _requirement_lines(path: Path) -> list[str]:
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _distribution(requirement: str) -> str:
    return requirement.split("[")[0].split("==")[0].strip().lower()


def test_layer_requirements_are_the_project_pins_without_boto3() -> None:
    # Given the runtime pins of the project
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    expected = sorted(pin for pin in project["dependencies"] if _distribution(pin) != "boto3")

    # When reading what sam build installs into the layer
    layer = sorted(_requirement_lines(REPO_ROOT / "shared" / "requirements.txt"))

    # Then they are the same exact pins (boto3 comes with the Lambda runtime)
    assert layer == expected
    assert all("==" in pin for pin in layer)

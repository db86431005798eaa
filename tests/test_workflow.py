"""The hosted CI workflow (.github/workflows/ci.yml) cannot run here; these checks make it one a maintainer can
switch on unchanged: it parses, its matrix covers Linux, Windows and macOS on arm64 with two Pythons, it installs
and tests with the README's own commands, every file its steps run exists, and each OS builds, smoke-tests and
uploads the bundle."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
README = ROOT / "README.md"


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def steps(workflow: dict, job: str) -> list[dict]:
    return workflow["jobs"][job]["steps"]


def runs(workflow: dict, job: str, os_name: str) -> str:
    """The commands of *job*'s steps that run on *os_name* (Linux, Windows or macOS), one script."""

    def applies(step: dict) -> bool:
        condition = step.get("if", "")
        if f"runner.os == '{os_name}'" in condition:
            return True
        negated = re.search(r"runner.os != '(\w+)'", condition)
        return not re.search(r"runner.os == '", condition) and not (negated and negated.group(1) == os_name)

    return "\n".join(step["run"] for step in steps(workflow, job) if "run" in step and applies(step))


def readme_commands(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.+?)\n```", README.read_text(encoding="utf-8"), flags=re.S)


def test_it_parses_and_runs_on_pushes_and_pull_requests(workflow: dict) -> None:
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert {"push", "pull_request"} <= set(triggers)
    assert workflow["permissions"] == {"contents": "read"}
    assert set(workflow["jobs"]) == {"test", "bundle"}
    for job in workflow["jobs"].values():
        assert job["timeout-minutes"] <= 120 and job["strategy"]["fail-fast"] is False


def test_the_matrix_is_linux_windows_and_macos_arm64_on_two_pythons(workflow: dict) -> None:
    matrix = workflow["jobs"]["test"]["strategy"]["matrix"]
    assert len(matrix["os"]) == 3
    assert {re.sub(r"-.*", "", os) for os in matrix["os"]} == {"ubuntu", "windows", "macos"}
    assert "macos-14" in matrix["os"]  # the first Apple Silicon (arm64) runner image
    assert matrix["python"] == ["3.11", "3.12"]
    bundles = [entry["os"] for entry in workflow["jobs"]["bundle"]["strategy"]["matrix"]["include"]]
    assert sorted(bundles) == sorted(matrix["os"])


def test_actions_are_pinned_to_a_major_version(workflow: dict) -> None:
    used = [step["uses"] for job in workflow["jobs"] for step in steps(workflow, job) if "uses" in step]
    assert used and all(re.fullmatch(r"actions/[\w-]+@v\d+", action) for action in used), used


def test_install_and_test_are_the_readme_commands(workflow: dict) -> None:
    setup = README.read_text(encoding="utf-8").split("## Set up", 1)[1].split("\n## ", 1)[0]
    bash_test = next(c for c in re.findall(r"```bash\n(.+?)\n```", setup, flags=re.S) if "[test]" in c)
    powershell_test = next(c for c in readme_commands("powershell") if "[test]" in c)
    assert "py -m venv .venv" in powershell_test and ".venv\\Scripts\\python -m pytest" in powershell_test
    for os_name in ("Linux", "macOS"):
        assert bash_test in runs(workflow, "test", os_name).splitlines()
    assert powershell_test in runs(workflow, "test", "Windows").splitlines()
    assert workflow["jobs"]["test"]["env"]["QT_QPA_PLATFORM"] == "offscreen"


def test_powershell_steps_stop_at_the_first_failing_command(workflow: dict) -> None:
    for job in workflow["jobs"]:
        for step in steps(workflow, job):
            if step.get("shell") == "pwsh":
                assert step["run"].startswith("$PSNativeCommandUseErrorActionPreference = $true\n"), step["name"]


@pytest.mark.parametrize("os_name", ["Linux", "Windows", "macOS"])
def test_each_os_builds_smoke_tests_and_uploads_the_bundle(workflow: dict, os_name: str) -> None:
    script = runs(workflow, "bundle", os_name).replace("\\", "/")
    build, smoke = script.find("packaging/build.py"), script.find("packaging/smoke.py")
    assert 0 <= build < smoke, script
    uploads = [step for step in steps(workflow, "bundle") if step.get("uses", "").startswith("actions/upload-artifact")]
    assert uploads[0]["with"]["if-no-files-found"] == "error" and "if" not in uploads[0]


def test_every_file_the_steps_run_exists(workflow: dict) -> None:
    mentioned = set()
    for job in workflow["jobs"]:
        for step in steps(workflow, job):
            for path in re.findall(r"(?<![\w.])((?:packaging|tests|tools|\.ci)[/\\][\w./\\-]+)", step.get("run", "")):
                mentioned.add(path.replace("\\", "/"))
    assert {"packaging/build.py", "packaging/smoke.py"} <= mentioned
    missing = sorted(path for path in mentioned if not (ROOT / path).exists())
    assert not missing, missing

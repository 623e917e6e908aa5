"""The README's fresh-machine test command is what CI runs, set-up included."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    return [m.strip() for m in re.findall(r"```bash\n(.+?)\n\s*```", text, flags=re.S)]


def test_ci_runs_the_readme_test_command():
    commands = _readme_commands()
    assert len(commands) >= 2, "README lost its two fresh-machine commands"
    test_command = commands[1].strip()
    assert "scripts/setup-apt.sh" in test_command  # the whole set-up, not only pip
    assert "pytest" in test_command
    ci_lines = [ln.strip() for ln in (REPO / ".ci/run").read_text().splitlines()]
    assert test_command in ci_lines


def test_readme_main_job_uses_a_model_with_real_weights():
    demo = (REPO / "scripts/demo_rest.py").read_text()
    assert "ppocr_v4_det.onnx" in demo
    assert (REPO / "models/ppocr_v4_det.onnx").is_file()


def test_no_test_reads_the_shared_folder_directly():
    # A clone without ../shared must pass: real models come through bench.real_models only.
    pattern = re.compile(r"""["']shared["']""")  # "shared" as a path component in code
    offenders = [
        str(p.relative_to(REPO))
        for folder in ("tests", "scripts", "fuzz", "bench", "dnnfusion")
        for p in (REPO / folder).rglob("*.py")
        if p.name not in ("real_models.py", "test_readme.py") and pattern.search(p.read_text())
    ]
    assert offenders == []

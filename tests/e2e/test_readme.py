"""The commands of the README and of ``docs/*.md``, as written, in a fresh copy of the
project: a page that drifts from the code fails here.

Every ``python scripts/...`` line of their ``bash`` blocks is taken. Those that a
laptop can run in seconds are run for real in a copy of the tracked files (tiny synthetic
MNIST in its ``data/``, no project variables set): the quick start's training (with tiny
limits added), every predict, compare and register line, ``--cfg job``. Lines that need
hours, a cluster or a server (sweeps, ``experiment=best``, DDP, a tracking server) are
composed by Hydra and checked by the training schema instead, with a sweep's first values.
``make`` lines must name Makefile targets.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from PIL import Image

from digit_recognizer.training.schema import check_train_config
from tests.helpers.configs import compose_train
from tests.helpers.images import digit_png
from tests.helpers.paths import ROOT
from tests.helpers.stores import runs_of

README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
# Added to the one training the README test runs for real: seconds, not minutes.
TINY = [
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=3",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
    "data.download=false",
    "data.verify_md5=false",
    "data.val_size=100",
]
# Scripts whose README lines run for real, unless they name a tracking server (none here);
# serve.py only shows its config (it would not exit).
RUN_FOR_REAL = ("predict.py", "compare.py", "register.py")
PLACEHOLDERS = ("<run id>", "<MLflow run id>", "<id>")


def readme_commands() -> list[str]:
    """The commands of the bash blocks of the README and of every ``docs/`` page,
    continuation lines joined, comments kept."""
    text = "\n".join(page.read_text() for page in PAGES)
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    lines = [re.sub(r"\\\n\s*", " ", block).splitlines() for block in blocks]
    return [line.strip() for block in lines for line in block if line.strip()]


def script_call(command: str) -> tuple[str, list[str]] | None:
    """(script, arguments) of a command that runs ``scripts/X.py``, however it is launched."""
    words = shlex.split(command, comments=True)
    for index, word in enumerate(words):
        if word.startswith("scripts/") and word.endswith(".py"):
            return word.removeprefix("scripts/"), words[index + 1 :]
    return None


def first_of_each_sweep(arguments: list[str]) -> list[str]:
    """The overrides of one job of a sweep: Hydra's own parser, first value of each list."""
    parsed = OverridesParser.create().parse_overrides([a for a in arguments if a != "-m"])
    return [
        f"{o.get_key_element()}={next(o.sweep_string_iterator())}"
        if o.is_sweep_override()
        else o.input_line
        for o in parsed
    ]


@pytest.fixture(scope="module")
def fresh_copy(tiny_mnist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tracked files in a new folder, tiny MNIST as its data/, and the files README names."""
    copy = tmp_path_factory.mktemp("readme") / "digit-recognizer"
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    (copy / "data" / "MNIST").mkdir(parents=True)
    (copy / "data" / "MNIST" / "raw").symlink_to(tiny_mnist / "MNIST" / "raw")
    photo = Image.open(__import__("io").BytesIO(digit_png(200)))
    for name in ("my_digit.jpg", "IMG_1234 (1).jpg", "a.png", "b.jpg", "x.png", "number.png"):
        photo.convert("RGB").save(copy / name)
    for folder in ("photos", "scans"):
        (copy / folder).mkdir()
        photo.save(copy / folder / "one.png")
    return copy


def run_in(copy: Path, script: str, arguments: list[str]) -> subprocess.CompletedProcess:
    """``python scripts/<script> ...`` in ``copy``, in an environment without project variables."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PROJECT_ROOT", "MNIST_ROOT") and not key.startswith("MLFLOW_")
    }
    return subprocess.run(
        [sys.executable, f"scripts/{script}", *arguments],
        cwd=copy,
        env={**environment, "HOME": str(copy), "PYTHONUNBUFFERED": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_readme_commands_work_as_written(fresh_copy: Path) -> None:
    commands = readme_commands()
    calls = [(command, script_call(command)) for command in commands]
    scripts = [call for _, call in calls if call]
    assert len(scripts) >= 25, "the README lost its commands?"

    # The quick start's training first: the later commands predict with its run.
    first_train = next(args for script, args in scripts if script == "train.py")
    trained = run_in(fresh_copy, "train.py", [*first_train, *TINY])
    assert trained.returncode == 0, trained.stderr[-3000:]
    (run,) = runs_of(fresh_copy)
    checkpoint = Path(run.data.tags["checkpoint_dir"]) / "last.ckpt"
    assert run.info.status == "FINISHED" and checkpoint.is_file()

    makefile = (fresh_copy / "Makefile").read_text()
    checks = []
    for command, call in calls:
        for placeholder in PLACEHOLDERS:
            command = command.replace(placeholder, run.info.run_id)
        command = re.sub(r"path/to/\w+\.ckpt", str(checkpoint), command)
        if call is None:
            words = shlex.split(command, comments=True)
            targets = [w for w in words[1:] if "=" not in w] if words[:1] == ["make"] else []
            missing = [t for t in targets if not re.search(rf"^{t}:", makefile, re.M)]
            checks.append((command, lambda missing=missing: missing and f"no target {missing}"))
        else:
            checks.append((command, lambda command=command: _check(fresh_copy, command)))
    # Processes two at a time (each mostly imports torch on one core); Hydra's in-process
    # composition is one global state, so those checks run here, one after another.
    in_process = [c for c in checks if _composed_here(c[0])]
    with ThreadPoolExecutor(max_workers=2) as pool:
        problems = dict(
            pool.map(lambda c: (c[0], c[1]()), [c for c in checks if c not in in_process])
        )
    problems.update((command, check()) for command, check in in_process)
    failures = [f"{command}\n  -> {problem}" for command, problem in problems.items() if problem]
    assert not failures, "\n".join(failures)


def _composed_here(command: str) -> bool:
    call = script_call(command)
    return bool(call and call[0] == "train.py" and "--cfg" not in call[1])


def _check(copy: Path, command: str) -> str | None:
    """Run, or compose and check, one README command; what went wrong, or None."""
    script, arguments = script_call(command) or ("", [])
    if script == "train.py":
        return _check_train_line(copy, arguments)
    if script in RUN_FOR_REAL and "tracking_uri=http" not in command:
        done = run_in(copy, script, arguments)
    else:  # serve.py, or a tracking server that is not here: the composed config only
        done = run_in(copy, script, [*arguments, "--cfg", "job"])
    return None if done.returncode == 0 else done.stderr[-1500:]


def _check_train_line(copy: Path, arguments: list[str]) -> str | None:
    """Run ``--cfg job`` lines for real; compose and check every other training line."""
    if "--cfg" in arguments:
        done = run_in(copy, "train.py", arguments)
        return None if done.returncode == 0 else done.stderr[-1500:]
    overrides = first_of_each_sweep(arguments)
    try:
        paths = [f"paths.root_dir={copy}", f"paths.output_dir={copy}/out"]
        check_train_config(compose_train([*overrides, *paths]))
    except Exception as err:  # a Hydra composition error or the schema's sentence
        return f"{type(err).__name__}: {err}"
    return None


def test_the_pages_import_what_the_project_has() -> None:
    """Every ``from digit_recognizer... import ...`` and every module path the pages name in
    backticks (``reading/lattice.py``) exists: a module that moved fails here."""
    import importlib

    text = "\n".join(page.read_text() for page in PAGES)
    missing = []
    for module, names in re.findall(r"^from (digit_recognizer[\w.]*) import ([\w, ]+)", text, re.M):
        found = importlib.import_module(module)
        missing += [
            f"{module}.{n.strip()}" for n in names.split(",") if not hasattr(found, n.strip())
        ]
    folders = ("src", "scripts", "benchmarks", "tests")
    sources = [p.relative_to(ROOT).as_posix() for f in folders for p in (ROOT / f).rglob("*.py")]
    for named in set(re.findall(r"`((?:[\w]+/)*[\w]+\.py)`", text)):
        if not any(source == named or source.endswith(f"/{named}") for source in sources):
            missing.append(named)
    assert missing == [], f"the pages name what is not there: {missing}"

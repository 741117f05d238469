"""Every input gets a one-line answer: odd file names, symlink loops, checkpoint bombs, dead
tracking servers, bad options and broken stores (issue: strangers' inputs)."""

import importlib.util
import json
import socket
import sqlite3
import sys
import time
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from digit_recognizer.cli.arguments import path_arguments
from digit_recognizer.errors import ModelUnavailable
from digit_recognizer.model.checkpoints import load_classifier
from tests.helpers.images import digit_png
from tests.helpers.paths import CONFIG_DIR, ROOT
from tests.helpers.processes import one_error_line, run_script
from tests.helpers.servers import free_port

ODD_NAMES = [
    "IMG_1234 (1).jpg",
    "résumé.png",
    "it's.png",
    "digit,7.png",
    "[1].png",
    "a=b.png",
    "br[1].png",
    "${HOME} 100%.png",
]


@pytest.fixture(scope="module")
def odd_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("odd names")
    for name in ODD_NAMES:
        Image.open(__import__("io").BytesIO(digit_png())).save(folder / name)
    return folder


@pytest.mark.parametrize("style", ["positional", "img="])
def test_any_file_name_is_predicted(
    odd_files: Path, tiny_checkpoint: Path, tmp_path: Path, style: str
) -> None:
    paths = [str(odd_files / name) for name in ODD_NAMES]
    images = paths if style == "positional" else [f"img={path}" for path in paths]
    result = run_script("predict.py", [*images, f"ckpt={tiny_checkpoint}", "format=json"], tmp_path)
    assert result.returncode == 0, result.stderr
    files = [json.loads(line)["file"] for line in result.stdout.splitlines()]
    assert files == paths  # each once, in order: br[1].png is a file, not a glob


def _bomb(tmp_path: Path, source: Path, name: str, **changes: object) -> Path:
    checkpoint = torch.load(source, weights_only=True)
    for key, value in changes.items():
        if key == "net":
            checkpoint["hyper_parameters"]["net"] = value
        elif key == "weights":
            checkpoint["state_dict"] = {k: v * value for k, v in checkpoint["state_dict"].items()}
        else:
            checkpoint["hyper_parameters"][key] = value
    path = tmp_path / f"{name}.ckpt"
    torch.save(checkpoint, path)
    return path


BOMBS = {
    "wide": {"net": {"name": "BatchNormCNN", "width": 20000}},
    "unknown_keyword": {"net": {"name": "SeedCNN", "depth": 3}},
    "many_classes": {"net": {"name": "SeedCNN", "num_classes": 10**10}},
    "negative_classes": {"net": {"name": "SeedCNN", "num_classes": -5}},
    "dropout": {"net": {"name": "BatchNormCNN", "dropout": 5}},
    "name_not_a_string": {"net": {"name": 7}},
    "zero_std": {"input_std": 0.0},
    "nan_weights": {"weights": float("nan")},
    "other_net": {"net": {"name": "BatchNormCNN"}},  # SeedCNN weights under another name
}


def test_checkpoint_bombs_are_refused_without_large_allocations(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    paths = [_bomb(tmp_path, tiny_checkpoint, name, **change) for name, change in BOMBS.items()]
    code = (
        "import sys\n"
        "from digit_recognizer.errors import ModelUnavailable\n"
        "from digit_recognizer.model.checkpoints import load_classifier\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        load_classifier(path)\n"
        "        print('LOADED', path)\n"
        "    except ModelUnavailable as err:\n"
        "        print('REFUSED', err)\n"
        "print('PEAK_KB', next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])\n"
    )
    import subprocess

    result = subprocess.run(
        [sys.executable, "-c", code, *map(str, paths)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert sum(line.startswith("REFUSED") for line in lines) == len(BOMBS), lines
    assert int(lines[-1].split()[1]) < 1.5 * 1024 * 1024  # KB: peak RSS under 1.5 GB

    cli = run_script("predict.py", [str(tmp_path / "x.png"), f"ckpt={paths[0]}"], tmp_path)
    assert cli.returncode == 2 and "Traceback" not in cli.stderr
    assert "width=20000 is outside" in one_error_line(cli.stderr)


def test_loaded_checkpoint_still_predicts(tiny_checkpoint: Path) -> None:
    with pytest.raises(ModelUnavailable):
        load_classifier(tiny_checkpoint.parent / "missing.ckpt")
    assert load_classifier(tiny_checkpoint).predict(torch.zeros(2, 28, 28)).shape == (2, 10)


def _black_hole() -> socket.socket:
    """A loopback socket that completes connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    return listener


@pytest.mark.parametrize("server", ["refused", "black hole"])
def test_an_unreachable_tracking_server_answers_within_15_s(tmp_path: Path, server: str) -> None:
    listener = _black_hole() if server == "black hole" else None
    port = listener.getsockname()[1] if listener else free_port()
    uri = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    try:
        result = run_script("predict.py", ["x.png", f"logger.tracking_uri={uri}"], tmp_path)
    finally:
        if listener:
            listener.close()
    assert time.monotonic() - started < 15
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert uri in one_error_line(result.stderr)


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"script_{name}", ROOT / "scripts" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def call_script(name: str, overrides: list[str], workdir: Path) -> tuple[int, str]:
    """Run a script's Hydra main in this process on a composed config: (exit status, stderr)."""
    from hydra import compose, initialize_config_dir

    module = _load_script(name)
    keys = getattr(module, "PATH_KEYS", ())
    overrides = path_arguments(overrides, keys, "img" if name == "predict" else None)
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name=name, overrides=[f"paths.root_dir={workdir}", *overrides])
    import contextlib
    import io

    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        try:
            module.main(cfg)
            status = 0
        except SystemExit as stop:
            status = int(stop.code or 0)
    return status, stderr.getvalue()


@pytest.mark.parametrize(
    ("script", "override", "expected"),
    [
        ("predict", "img=[]", "name the image"),
        ("predict", "batch_size=0", "batch_size=0"),
        ("predict", "batch_size=-1", "batch_size=-1"),
        ("predict", "batch_size=abc", "batch_size='abc'"),
        ("predict", "format=yaml", "format='yaml'"),
        ("predict", "run_id=123", "No MLflow run 123"),
        ("eval", "batch_size=0", "batch_size=0"),
        ("eval", "uploads=-3", "uploads=-3"),
        ("serve", "port=-1", "port=-1"),
        ("serve", "max_upload_mb=abc", "max_upload_mb='abc'"),
        ("serve", "max_upload_mb=-1", "max_upload_mb=-1"),
        ("serve", "host=no.such.host.invalid", "host=no.such.host.invalid: no such address"),
        ("register", "name='a/b'", "name='a/b'"),
        ("compare", "top=0", "top=0"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(
    trained_store: Path, tmp_path: Path, script: str, override: str, expected: str
) -> None:
    extra = ["img=x.png"] if script == "predict" and not override.startswith("img") else []
    status, stderr = call_script(script, [*extra, override], trained_store)
    assert status == 2, stderr
    assert expected in one_error_line(stderr)


@pytest.mark.parametrize(
    ("script", "override", "expected"),
    [
        ("train", "trainer.max_epoch=3", "There is no option trainer.max_epoch (a typo?"),
        ("predict", "formt=json", "There is no option formt"),
        ("train", "model=resnet", "Could not find 'model/resnet' Available options in 'model':"),
        ("eval", "uploads=[1,", "no viable alternative at input"),
    ],
)
def test_options_hydra_cannot_apply_are_one_line_and_exit_2(
    tmp_path: Path, script: str, override: str, expected: str
) -> None:
    # An unknown key, a group choice that does not exist, a malformed override: refused by
    # Hydra before the script runs, in one line and exit 2 as a bad value is (Hydra alone
    # prints several lines and exits 1).
    result = run_script(f"{script}.py", [override], tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert expected in result.stderr
    assert not (tmp_path / "mlruns").exists()  # nothing started


def test_a_start_checkpoint_must_be_ours_and_fit_the_net(tmp_path: Path) -> None:
    # Lightning would load it and fail with a traceback listing every missing key; and any
    # file at all given as ckpt_path= reached torch.load's unpickler (IndexError traceback).
    from tests.helpers.checkpoints import batchnorm_checkpoint

    reader = batchnorm_checkpoint(tmp_path / "reader.ckpt")
    result = run_script("train.py", [f"ckpt_path={reader}"], tmp_path)
    assert result.returncode == 2, result.stderr
    assert "holds a net {'name': 'BatchNormCNN'" in one_error_line(result.stderr)
    assert "this run builds {'name': 'SeedCNN'" in one_error_line(result.stderr)
    text = tmp_path / "passwd"
    text.write_text("root:x:0:0:root:/root:/bin/bash\n" * 5)
    result = run_script("train.py", [f"ckpt_path={text}"], tmp_path)
    assert result.returncode == 2
    assert "corrupt or not a PyTorch file" in one_error_line(result.stderr)
    assert not (tmp_path / "mlruns").exists()  # refused before any run was recorded


def test_serving_on_a_port_in_use_is_one_sentence(trained_store: Path) -> None:
    # uvicorn would start, log a bind error among its start-up lines and exit 3.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, stderr = call_script("serve", [f"port={port}"], trained_store)
    assert status == 2, stderr
    error = one_error_line(stderr)
    assert f"127.0.0.1:{port}: another program listens there; choose another port=" in error


def test_an_unwritable_preview_folder_is_refused_before_predicting(
    odd_files: Path, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    args = [f"img={odd_files}/a=b.png", f"ckpt={tiny_checkpoint}", "save_preview=true"]
    status, stderr = call_script("predict", [*args, f"preview_dir={blocker}/previews"], tmp_path)
    assert status == 2 and "Cannot write previews" in one_error_line(stderr)


@pytest.mark.parametrize("damage", ["empty", "not sqlite", "truncated", "not mlflow"])
def test_a_broken_store_is_named_and_left_alone(
    trained_store: Path, tmp_path: Path, damage: str
) -> None:
    database = tmp_path / "mlruns" / "mlflow.db"
    database.parent.mkdir()
    if damage == "empty":
        database.write_bytes(b"")
    elif damage == "not sqlite":
        database.write_bytes(b"hello, this is not a database at all" * 10)
    elif damage == "truncated":
        original = (trained_store / "mlruns" / "mlflow.db").read_bytes()
        database.write_bytes(original[: len(original) // 3])
    else:
        with sqlite3.connect(database) as db:
            db.execute("CREATE TABLE notes (text)")
    before = database.read_bytes()
    status, stderr = call_script("predict", ["img=x.png"], tmp_path)
    assert status == 2, stderr
    assert str(database) in one_error_line(stderr)
    assert database.read_bytes() == before  # predict never writes into a store it reads


OPTION_VALUES = {
    "batch_size": st.one_of(st.integers(-10, 10**6), st.sampled_from(["abc", "1.5", "null"])),
    "format": st.sampled_from(["text", "json", "xml", "", "null", "1"]),
    "save_preview": st.sampled_from(["true", "false", "maybe", "1", "null"]),
    "run_id": st.sampled_from(["null", "123", "abc", "0" * 32]),
}


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    key=st.sampled_from(sorted(OPTION_VALUES)),
    data=st.data(),
    script=st.sampled_from(["predict", "eval"]),
)
def test_random_option_values_never_give_a_traceback(
    trained_store: Path, tiny_checkpoint: Path, key: str, data: st.DataObject, script: str
) -> None:
    if script == "eval" and key in ("format", "save_preview"):
        key = "batch_size"
    value = data.draw(OPTION_VALUES[key])
    overrides = [f"{key}={value}", f"ckpt={tiny_checkpoint}", "data.download=false"]
    if script == "predict":
        overrides = [o for o in overrides if not o.startswith("data.")] + ["img=missing.png"]
    try:
        status, _ = call_script(script, overrides, trained_store)
    except Exception as err:  # a traceback, in a script
        pytest.fail(f"{script} {key}={value!r} raised {type(err).__name__}: {err}")
    assert status in (0, 1, 2)
